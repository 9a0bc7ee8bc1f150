import type { MiddlewareHandler } from 'hono';
import { problemFor } from '../../http/problem.js';
import type { Session, SessionManager, Session as StatelineSession } from '../../session/types.js';

declare module 'hono' {
  // Hono's extension point for variables middleware sets: importing `stateline/hono` types
  // `c.get('session')` and `c.var.session` on every app, `new Hono()` included.
  interface ContextVariableMap {
    /** The request's Stateline session, set by `session()` from `stateline/hono`. */
    session: StatelineSession;
  }
}

/**
 * Hono context variables set by {@link session}, for apps that spell out their `Env`. Not needed
 * for typing (`ContextVariableMap` already carries `session`), but kept for `Variables` that
 * combine it with the app's own.
 *
 * @example
 * ```ts
 * import { Hono } from 'hono';
 * import type { SessionVariables } from 'stateline/hono';
 * const app = new Hono<{ Variables: SessionVariables & { requestId: string } }>();
 * app.get('/me', (c) => c.json({ user: c.get('session').userId, request: c.get('requestId') }));
 * ```
 */
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
 * import { session } from 'stateline/hono';
 * const app = new Hono();
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
      const { setCookie } = s.commitNow?.() ?? (await s.commit());
      for (const v of setCookie) c.res.headers.append('set-cookie', v);
    } catch (err) {
      c.res = problemResponse(err);
    }
  };
}
