import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { problemFor } from '../../http/problem.js';
import type { Session, SessionManager } from '../../session/types.js';
import { requestContext } from '../node/request-context.js';

/** A Fastify request with its session: `(request: SessionFastifyRequest) => …`. */
export type SessionFastifyRequest = Omit<FastifyRequest, 'session'> & { session: Session };

export interface SessionPluginOptions {
  sessions: SessionManager;
}

function reject(reply: FastifyReply, err: unknown): FastifyReply {
  const p = problemFor(err);
  return reply.code(p.status).headers(p.headers).send(p.body);
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
    // null keeps every request one shape; `never` tolerates other plugins' typings of `session`.
    app.decorateRequest('session', null as never);
    app.addHook('onRequest', async (request, reply) => {
      try {
        (request as unknown as { session: Session }).session = await sessions.load(requestContext(request.raw));
      } catch (err) {
        return reject(reply, err);
      }
    });
    app.addHook('onSend', async (request, reply, payload) => {
      const s = (request as unknown as { session: Session | null }).session;
      if (!s) return payload;
      try {
        const { setCookie } = await s.commit();
        for (const c of setCookie) reply.header('set-cookie', c);
        return payload;
      } catch (err) {
        const p = problemFor(err);
        reply.code(p.status).headers(p.headers);
        return p.body;
      }
    });
  },
  { [Symbol.for('skip-override')]: true },
);
