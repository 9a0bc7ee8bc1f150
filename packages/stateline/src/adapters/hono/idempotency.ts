import type { Context, MiddlewareHandler } from 'hono';
import { problemFor } from '../../http/problem.js';
import { createIdempotency } from '../../idempotency/idempotency-core.js';
import type { IdempotencyAnswer, IdempotencyOptions, IdempotencyStats } from '../../idempotency/types.js';

/** Options of the Hono middleware; callbacks receive the Hono `Context`. */
export type HonoIdempotencyOptions = IdempotencyOptions<Context>;

/** The Hono middleware, with `close()` for a Store it opened from a spec. */
export type HonoIdempotency = MiddlewareHandler & {
  close(): Promise<void>;
  readonly stats: Readonly<IdempotencyStats>;
};

const NULL_BODY = new Set([101, 204, 205, 304]);

/**
 * Idempotency-Key middleware for Hono. The default fingerprint reads the body with
 * `c.req.arrayBuffer()` (Hono caches it, so `c.req.json()` still works; `c.req.raw` is spent).
 * The handler's response is buffered to be saved before it is returned. A handler that throws is
 * answered by `app.onError`, and that answer is what retries replay. The default scope's client
 * address comes from @hono/node-server (`c.env.incoming`); on other runtimes pass `scope`.
 *
 * @example
 * ```ts
 * import { Hono } from 'hono';
 * import { idempotency } from 'stateline/hono';
 * const app = new Hono();
 * app.use('/orders/*', idempotency({ store: 'redis://127.0.0.1:6379', required: true }));
 * app.post('/orders', (c) => c.json({ id: 1 }, 201, { location: '/orders/1' }));
 * ```
 */
export function idempotency(options: HonoIdempotencyOptions = {}): HonoIdempotency {
  const core = createIdempotency<Context>(options);
  const middleware: MiddlewareHandler = async (c, next) => {
    const url = new URL(c.req.url);
    const r = await core.begin({
      raw: c,
      method: c.req.method,
      path: url.pathname,
      url: url.pathname + url.search,
      header: (name) => c.req.header(name),
      body: async () => new Uint8Array(await c.req.arrayBuffer()),
      session: c.get('session') as unknown,
      address: nodeAddress(c.env),
    });
    if (r.kind === 'answer') return toResponse(r.answer);
    if (r.kind === 'pass') return next();
    try {
      await next();
    } catch (err) {
      // Hono's compose answers Errors itself; this is a thrown non-Error: save a 500 so a retry does not run it again.
      const p = problemFor(err);
      await r.ticket.complete({ status: p.status, headers: p.headers, body: Buffer.from(p.body) });
      throw err;
    }
    const res = c.res;
    const bytes = new Uint8Array(await res.arrayBuffer());
    await r.ticket.complete({
      status: res.status,
      headers: Object.fromEntries(res.headers),
      body: bytes.byteLength > r.ticket.maxBodyBytes ? null : bytes,
    });
    // Cleared first: assigning over a response merges its headers into the new one.
    c.res = undefined;
    c.res = new Response(NULL_BODY.has(res.status) ? null : bytes, {
      status: res.status,
      statusText: res.statusText,
      headers: res.headers,
    });
  };
  return Object.assign(middleware, { close: () => core.close(), stats: core.stats });
}

function toResponse(answer: IdempotencyAnswer): Response {
  return new Response(NULL_BODY.has(answer.status) ? null : answer.body, {
    status: answer.status,
    headers: answer.headers,
  });
}

/** The client address @hono/node-server exposes as `c.env.incoming`. */
function nodeAddress(env: unknown): string | undefined {
  const incoming = (env as { incoming?: { socket?: { remoteAddress?: unknown } } } | undefined)?.incoming;
  const address = incoming?.socket?.remoteAddress;
  return typeof address === 'string' ? address : undefined;
}
