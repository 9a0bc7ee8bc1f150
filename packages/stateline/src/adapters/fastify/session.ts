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
    // null keeps every request one shape until onRequest sets the session.
    app.decorateRequest('session', null as never);
    app.addHook('onRequest', async (request, reply) => {
      try {
        request.session = await sessions.load(requestContext(request.raw));
      } catch (err) {
        return reject(reply, err);
      }
    });
    // Callback style: a commit with nothing to write (after an update() that saved) answers at once.
    app.addHook('onSend', (request, reply, payload, done) => {
      const s = (request as unknown as { session: Session | null }).session;
      if (!s) return done(null, payload);
      const sent = ({ setCookie }: CommitResult) => {
        for (const c of setCookie) reply.header('set-cookie', c);
        done(null, payload);
      };
      const failed = (err: unknown) => {
        const p = problemFor(err);
        reply.code(p.status).headers(p.headers);
        done(null, p.body);
      };
      let now: CommitResult | undefined;
      try {
        now = s.commitNow?.();
      } catch (err) {
        return failed(err);
      }
      if (now !== undefined) return sent(now);
      s.commit().then(sent, failed);
    });
  },
  { [Symbol.for('skip-override')]: true },
);
