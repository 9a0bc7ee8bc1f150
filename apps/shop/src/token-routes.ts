import type { IncomingMessage, ServerResponse } from 'node:http';
import { SL_ERR_BAD_REQUEST, SL_ERR_NOT_FOUND } from 'stateline/http';
import { authenticate, requireUser } from './auth-routes.js';
import { readJson } from './body.js';
import type { SessionRequest, ShopContext } from './context.js';
import { fail } from './http-error.js';
import { sendEmpty, sendJson } from './respond.js';
import type { Params } from './router.js';
import { forgetFamily } from './family-session.js';
import type { TokenReplay } from './token-replay.js';

/** What a token may be allowed to do; a token asked for without `scopes` gets them all. */
export const SHOP_SCOPES = ['cart', 'orders:read', 'orders:write', 'sessions'] as const;
export type ShopScope = (typeof SHOP_SCOPES)[number];

/** Longest refresh token the shop reads (the library's are far shorter). */
const MAX_REFRESH_TOKEN = 512;
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/** The `Idempotency-Key` (quoted or bare), or undefined; 400 when it is malformed. */
function idempotencyKey(req: IncomingMessage): string | undefined {
  const raw = req.headers['idempotency-key'];
  if (raw === undefined) return undefined;
  const key = String(raw)
    .trim()
    .replace(/^"(.*)"$/, '$1');
  if (!IDEMPOTENCY_KEY.test(key))
    fail(SL_ERR_BAD_REQUEST, 'Idempotency-Key must be 1 to 255 visible characters');
  return key;
}

function scopesOf(raw: unknown): ShopScope[] {
  if (raw === undefined) return [...SHOP_SCOPES];
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > SHOP_SCOPES.length)
    fail(SL_ERR_BAD_REQUEST, `scopes must be a non-empty list of ${SHOP_SCOPES.join(', ')}`);
  const out = new Set<ShopScope>();
  for (const s of raw) {
    if (!(SHOP_SCOPES as readonly unknown[]).includes(s))
      fail(SL_ERR_BAD_REQUEST, `unknown scope ${JSON.stringify(String(s).slice(0, 40))}`);
    out.add(s as ShopScope);
  }
  return [...out];
}

/**
 * The shop's bearer-token API:
 * - `POST /api/tokens` `{ username, password, scopes? }` → `{ accessToken, refreshToken,
 *   tokenType, expiresIn, handle }`, under the same login limits as `POST /api/login`;
 * - `POST /api/tokens/refresh` `{ refreshToken }` → a new pair (the old refresh token is spent;
 *   presenting it again revokes the family);
 * - `DELETE /api/tokens/:handle` ends one of the user's token families (cookie or bearer).
 *
 * With an `Idempotency-Key`, a retry within a minute gets the same answer: the same family from a
 * token login (see {@link TokenReplay}), the same refresh token from a refresh (the library's
 * `retryKey`); without one, every login starts a family, and a second refresh is a reuse.
 *
 * @example
 * ```ts
 * const t = tokenRoutes(ctx, replay);
 * router.on('POST', '/api/tokens', t.issue).on('POST', '/api/tokens/refresh', t.refresh);
 * ```
 */
export function tokenRoutes(ctx: ShopContext, replay: TokenReplay) {
  const { tokens } = ctx;
  return {
    async issue(req: IncomingMessage, res: ServerResponse): Promise<void> {
      const body = await readJson(req);
      const key = idempotencyKey(req);
      const scopes = scopesOf(body.scopes);
      const user = await authenticate(ctx, req, body);
      const userAgent = String(req.headers['user-agent'] ?? '').slice(0, 256) || undefined;
      const issue = () => tokens.issue(user.id, { scopes, ...(userAgent ? { userAgent } : {}) });
      // authenticate() saw the password: only a caller who knows it finds the replay.
      const pair = key
        ? await replay.run(['issue', user.id, String(body.password), scopes.join(' '), key], issue)
        : await issue();
      sendJson(res, 200, pair);
    },

    async refresh(req: IncomingMessage, res: ServerResponse): Promise<void> {
      const body = await readJson(req);
      const key = idempotencyKey(req);
      const token = body.refreshToken;
      if (typeof token !== 'string' || token === '' || token.length > MAX_REFRESH_TOKEN)
        fail(SL_ERR_BAD_REQUEST, 'send {"refreshToken": "…"}');
      // The key makes a retry of this refresh get the same refresh token (the library derives it).
      const pair = await tokens.refresh(token, key ? { retryKey: key } : {});
      sendJson(res, 200, pair);
    },

    async revoke(req: SessionRequest, res: ServerResponse, params: Params): Promise<void> {
      const userId = requireUser(req);
      const handle = params.handle ?? '';
      if (handle.length > 200) fail(SL_ERR_NOT_FOUND, 'no such token family of yours');
      const mine = (await ctx.sessions.list(userId)).find((s) => s.handle === handle);
      if (mine?.kind !== 'token') fail(SL_ERR_NOT_FOUND, 'no such token family of yours');
      if (handle === req.session.handle) await req.session.destroy();
      else if (!(await ctx.sessions.revoke(handle, { userId })))
        fail(SL_ERR_NOT_FOUND, 'no such token family of yours');
      else await forgetFamily(ctx.store, handle);
      sendEmpty(res);
    },
  };
}
