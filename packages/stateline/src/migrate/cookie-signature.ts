/**
 * Signed cookie values as cookie-signature (express-session) and @fastify/cookie make them:
 * `value.` + HMAC of `value` in base64 without `=` padding, compared in constant time.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** The HMAC-signed value without its signature, when one of `secrets` signed it; else null. */
export function unsignValue(
  signed: string,
  secrets: readonly (string | Buffer)[],
  algorithm = 'sha256',
): string | null {
  const dot = signed.lastIndexOf('.');
  if (dot <= 0 || dot === signed.length - 1) return null;
  const value = signed.slice(0, dot);
  const actual = Buffer.from(signed.slice(dot + 1));
  for (const secret of secrets) {
    const expected = Buffer.from(
      createHmac(algorithm, secret).update(value).digest('base64').replace(/=+$/, ''),
    );
    if (expected.length === actual.length && timingSafeEqual(expected, actual)) return value;
  }
  return null;
}
