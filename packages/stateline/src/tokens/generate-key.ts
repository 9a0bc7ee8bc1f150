import type * as Jose from 'jose';
import { StatelineError } from '../errors.js';
import { loadPeer } from '../internal/peer.js';
import type { TokenAlgorithm, TokenJwk, TokenKey } from './types.js';

/**
 * A new signing key for access tokens: `kid` is the RFC 7638 thumbprint of its public part. Store
 * the result (it holds the private key) in your secret manager and pass it to `createTokens`.
 *
 * @example
 * ```ts
 * import { generateTokenKey } from 'stateline/tokens';
 * const key = await generateTokenKey('EdDSA');
 * console.log(JSON.stringify(key)); // { kid, alg: 'EdDSA', privateJwk: { kty: 'OKP', crv: 'Ed25519', x, d } }
 * ```
 */
export async function generateTokenKey(alg: TokenAlgorithm = 'EdDSA'): Promise<TokenKey> {
  if (alg !== 'EdDSA' && alg !== 'ES256')
    throw new StatelineError(
      'SL_ERR_INVALID_ARGUMENT',
      `alg must be 'EdDSA' or 'ES256' (got ${JSON.stringify(alg)})`,
    );
  const jose = await loadPeer<typeof Jose>('jose', 'stateline/tokens');
  const { privateKey } = await jose.generateKeyPair(alg === 'EdDSA' ? 'Ed25519' : 'ES256', {
    extractable: true,
  });
  const privateJwk = (await jose.exportJWK(privateKey)) as TokenJwk;
  const { d: _private, ...pub } = privateJwk;
  const kid = await jose.calculateJwkThumbprint(pub as Jose.JWK);
  return { kid, alg, privateJwk };
}
