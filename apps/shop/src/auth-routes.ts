import type { IncomingMessage, ServerResponse } from 'node:http';
import { redactSpec } from 'stateline/store';
import { checkCredentials, normalizeUsername, type PublicUser } from './users.js';
import { readJson } from './body.js';
import { noticeOf, whereSessionsLive } from './failover.js';
import { fail } from './http-error.js';
import { SL_ERR_BAD_REQUEST } from 'stateline/http';
import { SL_ERR_BAD_CREDENTIALS, SL_ERR_RATE_LIMITED, SL_ERR_UNAUTHENTICATED } from './errors.js';
import { forgetFamily } from './family-session.js';
import { sendEmpty, sendJson } from './respond.js';
import { mergeAnonymousCart } from './request-cart.js';
import type { SessionRequest, ShopContext } from './context.js';

/** Session key of the logged-in user's display name. */
const NAME = 'userName';

/**
 * The logged-in user of a session, or null.
 *
 * @example
 * ```ts
 * currentUser(req.session); // { id: 'alice', name: 'alice' }
 * ```
 */
export function currentUser(session: SessionRequest['session']): PublicUser | null {
  if (!session.userId) return null;
  return { id: session.userId, name: session.get<string>(NAME) ?? session.userId };
}

/**
 * The id of the logged-in user; 401 `SL_ERR_UNAUTHENTICATED` otherwise.
 *
 * @example
 * ```ts
 * const userId = requireUser(req);
 * ```
 */
export function requireUser(req: SessionRequest): string {
  const id = req.session.userId;
  // RFC 9110: a 401 names the scheme that would work; cookies have none, bearer tokens do.
  if (!id)
    fail(SL_ERR_UNAUTHENTICATED, 'log in first (POST /api/login or POST /api/tokens)', {
      'www-authenticate': 'Bearer realm="shop"',
    });
  return id;
}

/**
 * Checks a `{ username, password }` body under the login limits (failures counted per username as
 * typed and client address, in the Store): the user, or 400, 401 `SL_ERR_BAD_CREDENTIALS`, 429
 * `SL_ERR_RATE_LIMITED` with `Retry-After`. Cookie and token logins share it.
 *
 * @example
 * ```ts
 * const user = await authenticate(ctx, req, await readJson(req)); // { id: 'alice', name: 'alice' }
 * ```
 */
export async function authenticate(
  ctx: ShopContext,
  req: IncomingMessage,
  body: Record<string, unknown>,
): Promise<PublicUser> {
  if (typeof body.username !== 'string' || typeof body.password !== 'string')
    fail(SL_ERR_BAD_REQUEST, 'send {"username": "…", "password": "…"}');
  if (body.username.length > 256 || body.password.length > 1024)
    fail(SL_ERR_BAD_REQUEST, 'username or password too long');
  const username = normalizeUsername(body.username);
  // Failures are counted per (username as typed, lower-cased) and client address.
  const counted = username ?? body.username.trim().toLowerCase();
  const address = ctx.client(req).address;
  const wait = await ctx.limit.blockedFor(counted, address);
  if (wait > 0)
    fail(SL_ERR_RATE_LIMITED, `too many failed logins; retry in ${wait} s`, {
      'retry-after': String(wait),
    });
  const user = username ? await checkCredentials(ctx.store, username, body.password) : null;
  if (!user) {
    await ctx.limit.recordFailure(counted, address);
    fail(SL_ERR_BAD_CREDENTIALS);
  }
  return user;
}

/**
 * `GET /api/whoami`, `POST /api/login`, `POST /api/logout`, `POST /api/logout-all`.
 *
 * @example
 * ```ts
 * const auth = authRoutes(ctx);
 * router.on('POST', '/api/login', auth.login);
 * ```
 */
export function authRoutes(ctx: ShopContext) {
  const { config } = ctx;
  const store = redactSpec(config.storeSpec);
  return {
    whoami(req: SessionRequest, res: ServerResponse): void {
      sendJson(res, 200, {
        instance: config.instance,
        strategy: config.strategy,
        store,
        where: whereSessionsLive(config),
        balance: config.balance,
        replication: config.replication,
        user: currentUser(req.session),
        failover: noticeOf(req) ?? null,
      });
    },

    async login(req: SessionRequest, res: ServerResponse): Promise<void> {
      const user = await authenticate(ctx, req, await readJson(req));
      const s = req.session;
      // The anonymous cart joins the account's (once, even when this login is retried).
      await mergeAnonymousCart(ctx.store, s, user.id);
      s.set(NAME, user.name);
      // login() keeps the rest of the session's data and replaces the id at once.
      await s.login(user.id);
      sendJson(res, 200, { user });
    },

    async logout(req: SessionRequest, res: ServerResponse): Promise<void> {
      await req.session.destroy();
      sendEmpty(res);
    },

    async logoutAll(req: SessionRequest, res: ServerResponse): Promise<void> {
      const userId = requireUser(req);
      const families = (await ctx.sessions.list(userId)).filter((s) => s.kind === 'token');
      await ctx.sessions.revokeAll(userId);
      await Promise.all(families.map((f) => forgetFamily(ctx.store, f.handle)));
      // This session went with the others; destroy() also clears its cookie.
      await req.session.destroy();
      sendEmpty(res);
    },
  };
}
