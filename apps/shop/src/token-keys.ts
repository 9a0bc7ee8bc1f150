import { createHash, createPrivateKey } from 'node:crypto';
import type { TokenJwk, TokenKey } from 'stateline/tokens';

/** PKCS#8 wrapping of a raw 32-byte Ed25519 private key (RFC 8410). */
const ED25519_PKCS8 = Buffer.from('302e020100300506032b657004220420', 'hex');

/**
 * Turns a 32-byte seed (`STATELINE_TOKEN_KEYS`) into an Ed25519 signing key. The `kid` is derived
 * from the public half, so every instance given the same seed names the key alike.
 *
 * @example
 * ```ts
 * const key = tokenKeyFromSeed(randomBytes(32));
 * key.alg; // 'EdDSA'
 * ```
 */
export function tokenKeyFromSeed(seed: Buffer): TokenKey & { privateJwk: TokenJwk } {
  if (seed.length !== 32) throw new RangeError('a token key seed has 32 bytes');
  const key = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8, seed]), format: 'der', type: 'pkcs8' });
  const jwk = key.export({ format: 'jwk' }) as TokenJwk;
  const kid = createHash('sha256').update(String(jwk.x)).digest('base64url').slice(0, 16);
  return { kid, alg: 'EdDSA', privateJwk: { ...jwk, kid, alg: 'EdDSA' } };
}
