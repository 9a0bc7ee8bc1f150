import type { MiddlewareHandler } from 'hono';
import { problemFor } from '../../http/problem.js';
import type { Session, SessionManager } from '../../session/types.js';

/** Hono context variables set by {@link session}: `new Hono<{ Variables: SessionVariables }>()`. */
export interface SessionVariables {
  session: Session;
}

function problemResponse(err: unknown): Response {
  const p = problemFor(err);
  return new Response(p.body, { status: p.status, headers: p.headers });
}

/**
 * Hono middleware: `c.get('session')` for every request, committed after the handler.
 *
 * @example
 * ```ts
 * import { Hono } from 'hono';
 * import { session, type SessionVariables } from 'stateline/hono';
 * const app = new Hono<{ Variables: SessionVariables }>();
 * app.use(session(sessions));
 * app.get('/hit', async (c) => c.json({ hits: await c.get('session').update('hits', (n = 0) => n + 1) }));
 * ```
 */
export function session(sessions: SessionManager): MiddlewareHandler<{ Variables: SessionVariables }> {
  return async (c, next) => {
    let s: Session;
    try {
      s = await sessions.load({
        cookie: c.req.header('cookie'),
        encrypted: c.req.url.startsWith('https:'),
        forwardedProto: c.req.header('x-forwarded-proto'),
        userAgent: c.req.header('user-agent'),
      });
    } catch (err) {
      return problemResponse(err);
    }
    c.set('session', s);
    await next();
    try {
      const { setCookie } = await s.commit();
      for (const v of setCookie) c.res.headers.append('set-cookie', v);
    } catch (err) {
      c.res = problemResponse(err);
    }
  };
}
