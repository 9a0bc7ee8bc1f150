import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { problemFor } from '../../http/problem.js';
import type {
  CommitResult,
  Session,
  SessionManager,
  Session as StatelineSession,
} from '../../session/types.js';
import { requestContext } from '../node/request-context.js';

declare module 'fastify' {
  // Importing `stateline/fastify` types `request.session` on every route. The alias matters: inside
  // this block a bare `Session` would name the `Session` other plugins declare in 'fastify'.
  interface FastifyRequest {
    /** The request's Stateline session, set by `sessionPlugin` from `stateline/fastify`. */
    session: StatelineSession;
  }
}

/**
 * A Fastify request with its session. `FastifyRequest` itself carries `session` once
 * `stateline/fastify` is imported, so handlers need neither this type nor a cast.
 *
 * @deprecated Use `FastifyRequest` (augmented by this module).
 * @example
 * ```ts
 * import type { FastifyRequest } from 'fastify';
 * import 'stateline/fastify';
 * const whoami = async (request: FastifyRequest) => ({ user: request.session.userId });
 * ```
 */
export type SessionFastifyRequest = Omit<FastifyRequest, 'session'> & { session: Session };

export interface SessionPluginOptions {
  sessions: SessionManager;
}

/** Puts the commit's cookies on the reply; the payload goes on unchanged. */
function withCookies<P>(reply: FastifyReply, { setCookie }: CommitResult, payload: P): P {
  for (const c of setCookie) reply.header('set-cookie', c);
  return payload;
}

/** A failed commit: the reply becomes its problem, whose body replaces the payload. */
function problemPayload(reply: FastifyReply, err: unknown): string {
  const p = problemFor(err);
  reply.code(p.status).headers(p.headers);
  return p.body;
}

function reject(reply: FastifyReply, err: unknown): FastifyReply {
  return reply.send(problemPayload(reply, err));
}

/**
 * Fastify plugin: `request.session` for every request, committed in `onSend` so the cookie goes
 * out with the response. Registered without encapsulation, so it covers the whole app.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import { sessionPlugin } from 'stateline/fastify';
 * const app = Fastify();
 * await app.register(sessionPlugin, { sessions });
 * app.get('/hit', async (request) => ({ hits: await request.session.update('hits', (n = 0) => n + 1) }));
 * ```
 */
export const sessionPlugin = Object.assign(
  async function statelineSession(app: FastifyInstance, options: SessionPluginOptions): Promise<void> {
    const { sessions } = options;
    // null keeps every request one shape until onRequest sets the session.
    app.decorateRequest('session', null as never);
    app.addHook('onRequest', async (request, reply) => {
      try {
        request.session = await sessions.load(requestContext(request.raw));
      } catch (err) {
        return reject(reply, err);
      }
    });
    // Callback style: a commit with nothing to write (after an update() that saved) answers at
    // once, without a promise or a closure.
    app.addHook('onSend', (request, reply, payload, done) => {
      const s = (request as unknown as { session: Session | null }).session;
      if (!s) return done(null, payload);
      let now: CommitResult | undefined;
      try {
        now = s.commitNow?.();
      } catch (err) {
        return done(null, problemPayload(reply, err));
      }
      if (now !== undefined) return done(null, withCookies(reply, now, payload));
      s.commit().then(
        (result) => done(null, withCookies(reply, result, payload)),
        (err: unknown) => done(null, problemPayload(reply, err)),
      );
    });
  },
  { [Symbol.for('skip-override')]: true },
);
