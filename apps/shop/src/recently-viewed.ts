import type { ServerResponse } from 'node:http';
import { SL_ERR_BAD_REQUEST, SL_ERR_NOT_FOUND } from 'stateline/http';
import { readJson } from './body.js';
import { findProduct } from './catalog.js';
import { fail } from './http-error.js';
import { sendEmpty, sendJson } from './respond.js';
import type { SessionRequest } from './context.js';

/** One product view: the product's id and when (whole seconds since the epoch). */
export interface View {
  id: string;
  at: number;
}

/** The session key of the "recently viewed" list. */
export const VIEWED = 'viewed';

/**
 * How many views the session keeps, newest first; older ones drop off. 100 views of the shop's
 * ids are ~2.8 KB of JSON: under `token` that fits the 4 KB cookie only deflated, which is why the
 * shop turns the token strategy's `compress` on (docs/shop.md).
 */
export const VIEWED_MAX = 100;

function isView(v: unknown): v is View {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as View).id === 'string' &&
    typeof (v as View).at === 'number'
  );
}

/**
 * The session's views, newest first (anything unreadable left out).
 *
 * @example
 * ```ts
 * readViews(req.session.get(VIEWED)); // [{ id: 'mug', at: 1764770000 }]
 * ```
 */
export function readViews(raw: unknown): View[] {
  return Array.isArray(raw) ? raw.filter(isView) : [];
}

/**
 * `views` after `added` (oldest first), newest first, at most {@link VIEWED_MAX}. The same
 * product viewed twice is two views.
 *
 * @example
 * ```ts
 * addViews([], [{ id: 'mug', at: 1764770000 }, { id: 'tee', at: 1764770042 }]); // tee, then mug
 * ```
 */
export function addViews(views: readonly View[], added: readonly View[]): View[] {
  return [...[...added].reverse(), ...views].slice(0, VIEWED_MAX);
}

/** How far back a page may date a view it sends late (a day); older or future times become now. */
const LATE_S = 24 * 3600;

function viewsOf(body: Record<string, unknown>, now: number): View[] {
  const views = body.views;
  if (!Array.isArray(views) || views.length < 1 || views.length > VIEWED_MAX)
    fail(SL_ERR_BAD_REQUEST, `views must be a list of 1 to ${VIEWED_MAX} { id, at? }`);
  return views.map((v: unknown) => {
    const id = typeof v === 'object' && v !== null ? (v as { id?: unknown }).id : undefined;
    if (typeof id !== 'string') fail(SL_ERR_BAD_REQUEST, 'each view needs a product id string');
    if (!findProduct(id)) fail(SL_ERR_NOT_FOUND, `no product ${JSON.stringify(id.slice(0, 64))}`);
    const at = (v as { at?: unknown }).at;
    const ok = typeof at === 'number' && Number.isInteger(at) && at <= now && at >= now - LATE_S;
    return { id, at: ok ? at : now };
  });
}

/**
 * "Recently viewed", kept in the session (it belongs to the visit, not to the account, and is
 * gone at logout): `GET /api/viewed` (`{ viewed }`, newest first), `POST /api/viewed`
 * (`{ views: [{ id, at? }] }`: the views a page recorded since it last sent, oldest first, `at` in
 * epoch seconds, within the last day, else now; answers `{ count }`) and `DELETE /api/viewed`
 * (clears the history). The catalogue's own routes stay stateless and cacheable; the page
 * reports views on its own request, in batches.
 *
 * @example
 * ```ts
 * const viewed = viewedRoutes();
 * router.on('GET', '/api/viewed', viewed.list).on('POST', '/api/viewed', viewed.add);
 * ```
 */
export function viewedRoutes() {
  return {
    list(req: SessionRequest, res: ServerResponse): void {
      sendJson(res, 200, { viewed: readViews(req.session.get(VIEWED)) });
    },

    async add(req: SessionRequest, res: ServerResponse): Promise<void> {
      const added = viewsOf(await readJson(req), Math.floor(Date.now() / 1000));
      const views = await req.session.update<View[]>(VIEWED, (raw) => addViews(readViews(raw), added));
      sendJson(res, 200, { count: views.length });
    },

    clear(req: SessionRequest, res: ServerResponse): void {
      if (req.session.get(VIEWED) !== undefined) req.session.delete(VIEWED);
      sendEmpty(res);
    },
  };
}
