import type { ServerResponse } from 'node:http';
import { requireUser } from './auth-routes.js';
import { forgetFamily } from './family-session.js';
import { fail } from './http-error.js';
import { SL_ERR_NOT_FOUND } from 'stateline/http';
import { sendEmpty, sendJson } from './respond.js';
import type { Params } from './router.js';
import type { SessionRequest, ShopContext } from './context.js';

/**
 * `GET /api/sessions` (the user's live cookie sessions and token families, `kind` telling them
 * apart and `current` marking the one this request came with) and
 * `DELETE /api/sessions/:handle` (log that device out; 404 unless it is one of the user's).
 *
 * @example
 * ```ts
 * const s = sessionRoutes(ctx);
 * router.on('GET', '/api/sessions', s.list).on('DELETE', '/api/sessions/:handle', s.revoke);
 * ```
 */
export function sessionRoutes(ctx: ShopContext) {
  return {
    async list(req: SessionRequest, res: ServerResponse): Promise<void> {
      const userId = requireUser(req);
      const mine = req.session.handle;
      const sessions = (await ctx.sessions.list(userId)).map((s) => ({
        handle: s.handle,
        kind: s.kind,
        createdAt: s.createdAt,
        lastSeenAt: s.lastSeenAt,
        userAgent: s.userAgent,
        current: s.handle === mine,
      }));
      sendJson(res, 200, { sessions });
    },

    async revoke(req: SessionRequest, res: ServerResponse, params: Params): Promise<void> {
      const userId = requireUser(req);
      const handle = params.handle ?? '';
      if (handle === req.session.handle) {
        // Revoking the session this request runs in is a logout: destroy() also clears the cookie.
        await req.session.destroy();
        return sendEmpty(res);
      }
      if (handle.length > 200 || !(await ctx.sessions.revoke(handle, { userId })))
        fail(SL_ERR_NOT_FOUND, 'no such session of yours');
      await forgetFamily(ctx.store, handle);
      sendEmpty(res);
    },
  };
}
