import type * as Jose from 'jose';
import { StatelineError } from '../errors.js';
import type { JwksDocument, TokenAlgorithm, TokenJwk, TokenKey } from './types.js';

/** The key type and curve each algorithm pins its keys to. */
const SHAPES: Record<TokenAlgorithm, { kty: string; crv: string; members: readonly string[] }> = {
  EdDSA: { kty: 'OKP', crv: 'Ed25519', members: ['kty', 'crv', 'x'] },
  ES256: { kty: 'EC', crv: 'P-256', members: ['kty', 'crv', 'x', 'y'] },
};
const KID = /^[\x21-\x7e]{1,128}$/;

/** One key as the ring holds it: imported once, looked up by `kid` on every verification. */
export interface RingKey {
  kid: string;
  alg: TokenAlgorithm;
  /** The imported public key (verification). */
  verify: Jose.CryptoKey;
  /** The published form: public members only, with `kid`, `alg` and `use`. */
  jwk: TokenJwk;
}

function bad(detail: string): StatelineError {
  return new StatelineError('SL_ERR_INVALID_OPTION', detail);
}

/**
 * The access-token signing keys, newest first: the first signs, all verify and are published. Keys
 * are imported once; an unknown `kid`, or a known one with another `alg`, finds nothing.
 */
export class TokenKeyRing {
  private readonly byKid: Map<string, RingKey>;

  private constructor(
    readonly signer: RingKey & { sign: Jose.CryptoKey },
    keys: readonly RingKey[],
  ) {
    this.byKid = new Map(keys.map((k) => [k.kid, k]));
  }

  static async open(jose: typeof Jose, keys: readonly TokenKey[]): Promise<TokenKeyRing> {
    if (!Array.isArray(keys) || keys.length === 0)
      throw bad('keys must be a non-empty array of token keys, newest first (see generateTokenKey)');
    const seen = new Set<string>();
    const ring: RingKey[] = [];
    let sign: Jose.CryptoKey | undefined;
    for (const [i, key] of keys.entries()) {
      const where = `keys[${i}]`;
      if (!key || typeof key !== 'object') throw bad(`${where} must be { kid, alg, privateJwk }`);
      const { kid, alg } = key;
      if (typeof kid !== 'string' || !KID.test(kid))
        throw bad(`${where}.kid must be 1-128 visible ASCII characters`);
      if (seen.has(kid)) throw bad(`${where}.kid ${JSON.stringify(kid)} appears twice`);
      seen.add(kid);
      const shape = Object.hasOwn(SHAPES, alg) ? SHAPES[alg as TokenAlgorithm] : undefined;
      if (!shape) throw bad(`${where}.alg must be 'EdDSA' or 'ES256' (got ${JSON.stringify(alg)})`);
      const given = 'privateJwk' in key ? key.privateJwk : key.publicJwk;
      if (i === 0 && !('privateJwk' in key))
        throw bad(`${where} signs new tokens, so it needs its privateJwk`);
      if (!given || given.kty !== shape.kty || given.crv !== shape.crv)
        throw bad(`${where} must be a ${shape.kty} ${shape.crv} key for ${alg}`);
      if ('privateJwk' in key && typeof given.d !== 'string')
        throw bad(`${where}.privateJwk has no private part (d)`);
      const pub: TokenJwk = { kty: shape.kty };
      for (const m of shape.members) pub[m] = given[m];
      try {
        const verify = (await jose.importJWK(pub as Jose.JWK, alg)) as Jose.CryptoKey;
        if (i === 0) sign = (await jose.importJWK(given as Jose.JWK, alg)) as Jose.CryptoKey;
        ring.push({ kid, alg, verify, jwk: { ...pub, kid, alg, use: 'sig' } });
      } catch (cause) {
        throw new StatelineError('SL_ERR_INVALID_OPTION', `${where} cannot be imported as a ${alg} key`, {
          cause,
        });
      }
    }
    return new TokenKeyRing({ ...ring[0]!, sign: sign! }, ring);
  }

  /** The key a token's header names, when its `alg` is the one pinned to that key. */
  find(kid: unknown, alg: unknown): RingKey | undefined {
    if (typeof kid !== 'string') return undefined;
    const k = this.byKid.get(kid);
    return k && k.alg === alg ? k : undefined;
  }

  /** Public keys only, every key of the ring. */
  jwks(): JwksDocument {
    return { keys: [...this.byKid.values()].map((k) => ({ ...k.jwk })) };
  }
}
