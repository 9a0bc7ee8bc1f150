import { createHash } from 'node:crypto';
import type { IdempotencyRequest } from './types.js';

/** SHA-256 of the parts, unambiguously joined, as base64url: bounded whatever the input. */
export function digest(...parts: (string | Uint8Array)[]): string {
  const h = createHash('sha256');
  for (const part of parts) {
    const bytes = typeof part === 'string' ? Buffer.from(part, 'utf8') : part;
    h.update(String(bytes.byteLength)).update(':').update(bytes);
  }
  return h.digest('base64url');
}

/**
 * The bytes that stand for a body as the framework holds it: raw bytes and text as they are, a
 * parsed value (JSON, form fields) as JSON with sorted keys, so the same payload in another key
 * order is still the same request. A tag keeps the text `"1"` apart from the number `1`.
 */
export function bodyBytes(body: unknown): Uint8Array {
  if (body === undefined) return Buffer.from('none:');
  if (body instanceof Uint8Array) return Buffer.concat([Buffer.from('bytes:'), body]);
  if (body instanceof ArrayBuffer) return Buffer.concat([Buffer.from('bytes:'), new Uint8Array(body)]);
  if (typeof body === 'string') return Buffer.from(`text:${body}`, 'utf8');
  return Buffer.from(`json:${canonicalJson(body)}`, 'utf8');
}

function canonicalJson(value: unknown): string {
  return (
    JSON.stringify(value, (_key, v: unknown) => {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
      const sorted: Record<string, unknown> = {};
      for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
      return sorted;
    }) ?? 'undefined'
  );
}

/**
 * The default fingerprint: method, path with query and a SHA-256 digest of the body.
 *
 * @example
 * ```ts
 * const fp = await defaultFingerprint({ method: 'POST', url: '/orders', body: () => ({ sku: 1 }), … });
 * ```
 */
export async function defaultFingerprint(request: IdempotencyRequest<unknown>): Promise<string> {
  return digest(request.method.toUpperCase(), request.url, bodyBytes(await request.body()));
}
