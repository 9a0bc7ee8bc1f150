import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fail } from './http-error.js';
import { SL_ERR_NOT_FOUND } from 'stateline/http';

/** A product of the fixed catalogue; `price` is in integer cents. */
export interface Product {
  id: string;
  name: string;
  description: string;
  price: number;
}

/** The catalogue: fixed in code, so every instance serves the same bytes and the same ETags. */
export const PRODUCTS: readonly Product[] = [
  { id: 'mug', name: 'Stateline mug', description: 'Holds state (coffee) between requests.', price: 1200 },
  {
    id: 'tee',
    name: 'Sticky-session tee',
    description: 'Cotton T-shirt that always comes back to you.',
    price: 2400,
  },
  {
    id: 'cap',
    name: 'Cache cap',
    description: 'Keeps the sun off while your near cache stays warm.',
    price: 1800,
  },
  {
    id: 'sticker',
    name: 'Idempotency sticker',
    description: 'Apply once; re-applying changes nothing.',
    price: 300,
  },
  {
    id: 'hoodie',
    name: 'Hybrid hoodie',
    description: 'Warm like memory, durable like a database.',
    price: 4800,
  },
  {
    id: 'socks',
    name: 'Replicated socks',
    description: 'Always a backup pair on another instance.',
    price: 900,
  },
  { id: 'notebook', name: 'Write-ahead notebook', description: 'Log first, answer later.', price: 700 },
];

const BY_ID = new Map(PRODUCTS.map((p) => [p.id, p]));

/**
 * The product with this id, or undefined.
 *
 * @example
 * ```ts
 * findProduct('mug')?.price; // 1200
 * ```
 */
export function findProduct(id: string): Product | undefined {
  return BY_ID.get(id);
}

interface Cached {
  body: string;
  etag: string;
}

function cached(body: unknown): Cached {
  const text = JSON.stringify(body);
  return { body: text, etag: `"${createHash('sha256').update(text).digest('base64url').slice(0, 27)}"` };
}

const LIST = cached({ products: PRODUCTS });
const ONE = new Map(PRODUCTS.map((p) => [p.id, cached({ product: p })]));

/** True when `If-None-Match` (`*`, a list, weak or strong) names this ETag. */
function notModified(req: IncomingMessage, etag: string): boolean {
  const header = req.headers['if-none-match'];
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}

function send(req: IncomingMessage, res: ServerResponse, c: Cached): void {
  const headers = { etag: c.etag, 'cache-control': 'public, max-age=60', vary: 'Accept-Encoding' };
  if (notModified(req, c.etag)) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  res.writeHead(200, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(c.body)),
  });
  res.end(req.method === 'HEAD' ? undefined : c.body);
}

/**
 * `GET /api/products`: the whole catalogue, cacheable (ETag, `If-None-Match` → 304).
 *
 * @example
 * ```ts
 * router.on('GET', '/api/products', listProducts);
 * ```
 */
export function listProducts(req: IncomingMessage, res: ServerResponse): void {
  send(req, res, LIST);
}

/**
 * `GET /api/products/:id`: one product, or 404 `SL_ERR_NOT_FOUND`.
 *
 * @example
 * ```ts
 * router.on('GET', '/api/products/:id', getProduct);
 * ```
 */
export function getProduct(req: IncomingMessage, res: ServerResponse, params: Record<string, string>): void {
  const c = ONE.get(params.id ?? '');
  if (!c) fail(SL_ERR_NOT_FOUND, `no product ${JSON.stringify(params.id)}`);
  send(req, res, c);
}
