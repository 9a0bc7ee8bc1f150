import fastifyCookie from '@fastify/cookie';
import fastifySession, { type FastifySessionObject } from '@fastify/session';
import { RedisStore } from 'connect-redis';
import Fastify, { type FastifyRequest } from 'fastify';
import { createClient } from 'redis';
import type { SessionStrategy, Session } from 'stateline/session';
import { sessionPlugin } from 'stateline/fastify';
import { BENCH_SECRET, REDIS_URL } from './rows.js';
import { portOf, type RunningApp } from './running-app.js';
import { migrateReaders, statelineSessions } from './stateline-manager.js';
import type { Stats } from './stats.js';

declare module 'fastify' {
  interface Session {
    hits?: number;
  }
}

// stateline/fastify and @fastify/session both declare `FastifyRequest.session`; TypeScript keeps
// whichever it reads first, so each row reads the session it mounted through its own accessor.
/** Stateline's `request.session`. */
const sl = (request: FastifyRequest): Session => (request as unknown as { session: Session }).session;
/** @fastify/session's `request.session`. */
const fs = (request: FastifyRequest): FastifySessionObject =>
  (request as unknown as { session: FastifySessionObject }).session;

/** Builds, starts and returns the Fastify server of `row` (`fastify`, `fastify+…`). */
export async function startFastify(row: string, prefix: string, stats: Stats): Promise<RunningApp> {
  const app = Fastify({ logger: false });
  const closers: (() => Promise<void>)[] = [];
  const variant = row.slice('fastify+'.length);

  if (row === 'fastify') {
    // No session: the framework's ceiling with the same routes and the same JSON.
    let hits = 0;
    app.get('/hit', async () => ({ hits: stats.hit(++hits) }));
    app.get('/read', async () => ({ hits: stats.read(hits) }));
  } else if (variant.startsWith('stateline-')) {
    // `stateline-<strategy>[-memcached|-migrate]`: records on Redis unless the row names memcached;
    // `-migrate` configures migration readers (its clients carry native cookies).
    const [strategy, extra] = variant.slice('stateline-'.length).split('-') as [SessionStrategy, string?];
    const sessions = await statelineSessions(
      strategy,
      prefix,
      extra === 'migrate' ? { migrate: migrateReaders(prefix) } : {},
      extra === 'memcached' ? 'memcached' : 'redis',
    );
    closers.push(() => sessions.close());
    await app.register(sessionPlugin, { sessions });
    app.get('/hit', async (request) => ({
      hits: stats.hit(await sl(request).update<number>('hits', (n = 0) => n + 1)),
    }));
    app.get('/read', async (request) => ({ hits: stats.read(sl(request).get<number>('hits')) }));
  } else if (variant === 'fastify-session') {
    const client = createClient({ url: REDIS_URL });
    client.on('error', (err: unknown) => console.error('fastify-session redis client:', err));
    await client.connect();
    closers.push(() => client.close());
    await app.register(fastifyCookie);
    // As the docs set it up for production behind plain http: saveUninitialized false, and
    // rolling false so a read does not rewrite the session (the cheaper choice, like express-session's default).
    await app.register(fastifySession, {
      secret: BENCH_SECRET,
      cookieName: 'sid',
      cookie: { secure: false, httpOnly: true, sameSite: 'lax', path: '/', maxAge: 30 * 60 * 1000 },
      saveUninitialized: false,
      rolling: false,
      store: new RedisStore({ client, prefix }),
    });
    app.get('/hit', async (request) => {
      const hits = (fs(request).get('hits') ?? 0) + 1;
      fs(request).set('hits', hits);
      return { hits: stats.hit(hits) };
    });
    app.get('/read', async (request) => ({ hits: stats.read(fs(request).get('hits')) }));
  } else {
    throw new Error(`no fastify row named ${row}`);
  }

  await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    port: portOf(app.server),
    async close() {
      await app.close();
      for (const close of closers) await close();
    },
  };
}
