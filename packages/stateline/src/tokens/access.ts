import type * as Jose from 'jose';
import { StatelineError } from '../errors.js';
import { randomId } from '../session/key-ring.js';
import type { Revocations } from '../session/revocations.js';
import type { TokenKeyRing } from './key-ring.js';
import type { BearerAuth, TokenMetrics } from './types.js';

/** Longest access token looked at; anything longer is refused unparsed. */
export const MAX_TOKEN_LENGTH = 8192;
/** RFC 9068 `typ` of a JWT access token: an ID token or another JWT of the issuer is not one. */
const TYP = 'at+jwt';

/** What an access token says about its family, beside the claims shown to handlers. */
interface Verified {
  auth: BearerAuth;
  /** `exp` in ms. */
  exp: number;
  /** When the family began (ms): a user-wide revocation at or after it refuses the token. */
  since: number;
}

export interface AccessOptions {
  jose: typeof Jose;
  ring: TokenKeyRing;
  revocations: Revocations;
  metrics: TokenMetrics;
  now: () => number;
  issuer: string;
  audience: string | readonly string[];
  /** Seconds. */
  ttl: number;
  /** ms. */
  tolerance: number;
  cacheSize: number;
}

/** `SL_ERR_TOKEN_INVALID` with a short reason a client may see (no token content echoed). */
export function invalid(reason: string): StatelineError {
  return new StatelineError('SL_ERR_TOKEN_INVALID', reason);
}

/**
 * Signs and verifies access tokens: JWS compact, `alg` pinned by the key its `kid` names, claims
 * `sub`, `sid`, `scope`, `auth_time`, `iat`, `nbf`, `exp`, `iss`, `aud`, `jti`. A verified token is
 * remembered (bounded, by its whole text, until it expires), so a client repeating it costs a map
 * lookup and the revocation check, never the signature again.
 */
export class AccessTokens {
  private readonly cache = new Map<string, Verified>();

  constructor(private readonly o: AccessOptions) {}

  /** A fresh access token of family `sid`, begun at `since` (ms). */
  sign(userId: string, sid: string, scopes: readonly string[], since: number): Promise<string> {
    const { jose, ring, issuer, audience, ttl, now } = this.o;
    const iat = Math.floor(now() / 1000);
    return new jose.SignJWT({ sid, scope: scopes.join(' '), auth_time: since / 1000 })
      .setProtectedHeader({ alg: ring.signer.alg, kid: ring.signer.kid, typ: TYP })
      .setSubject(userId)
      .setIssuer(issuer)
      .setAudience(audience as string | string[])
      .setIssuedAt(iat)
      .setNotBefore(iat)
      .setExpirationTime(iat + ttl)
      .setJti(randomId())
      .sign(ring.signer.sign);
  }

  /** The token's auth when it was verified before (checks expiry, revocation, scopes); undefined when not. */
  cached(token: string, scopes: readonly string[]): BearerAuth | undefined {
    const hit = this.cache.get(token);
    if (hit === undefined) return undefined;
    if (this.o.now() >= hit.exp + this.o.tolerance) {
      this.cache.delete(token);
      this.o.metrics.refused++;
      throw invalid('the token expired');
    }
    this.o.metrics.cacheHits++;
    return this.accept(hit, scopes);
  }

  /** Verifies the token's signature and claims (and remembers it), then checks revocation and scopes. */
  async verify(token: string, scopes: readonly string[]): Promise<BearerAuth> {
    const hit = this.cached(token, scopes);
    if (hit !== undefined) return hit;
    let v: Verified;
    try {
      v = await this.check(token);
    } catch (err) {
      this.o.metrics.refused++;
      throw err instanceof StatelineError ? err : invalid('the token is malformed');
    }
    if (this.o.cacheSize > 0) {
      if (this.cache.size >= this.o.cacheSize) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(token, v);
    }
    return this.accept(v, scopes);
  }

  private accept(v: Verified, scopes: readonly string[]): BearerAuth {
    const { auth } = v;
    if (this.o.revocations.isRevoked({ h: auth.sid, u: auth.userId, c: v.since })) {
      this.o.metrics.refused++;
      this.o.metrics.revokedRefused++;
      throw invalid('the token was revoked');
    }
    for (const s of scopes) {
      if (!auth.scopes.includes(s))
        throw new StatelineError('SL_ERR_TOKEN_SCOPE', `this needs the scope ${JSON.stringify(s)}`);
    }
    return auth;
  }

  private async check(token: string): Promise<Verified> {
    const { jose, ring, issuer, audience, tolerance, now } = this.o;
    if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) throw invalid('the token is malformed');
    let header: Jose.ProtectedHeaderParameters;
    try {
      header = jose.decodeProtectedHeader(token);
    } catch {
      throw invalid('the token is malformed');
    }
    // One encoding per signature: base64url's spare low bits would make altered text verify.
    const sig = token.slice(token.lastIndexOf('.') + 1);
    if (Buffer.from(sig, 'base64url').toString('base64url') !== sig) throw invalid('the token is malformed');
    // Pinned: `none`, HS*, or a known kid under another alg never reach a key.
    const key = ring.find(header.kid, header.alg);
    if (!key) throw invalid('the token names no key this issuer signs with');
    const at = now();
    let payload: Jose.JWTPayload;
    try {
      ({ payload } = await jose.jwtVerify(token, key.verify, {
        algorithms: [key.alg],
        issuer,
        audience: audience as string | string[],
        typ: TYP,
        clockTolerance: tolerance / 1000,
        currentDate: new Date(at),
        requiredClaims: ['sub', 'sid', 'iat', 'exp', 'nbf', 'jti'],
      }));
    } catch (err) {
      throw invalid(reasonOf(jose, err));
    }
    const { sub, sid, scope, iat, exp } = payload;
    const authTime = payload.auth_time;
    if (
      typeof sub !== 'string' ||
      sub === '' ||
      typeof sid !== 'string' ||
      typeof scope !== 'string' ||
      typeof authTime !== 'number' ||
      typeof exp !== 'number'
    )
      throw invalid('the token lacks a claim this issuer always sets');
    if (typeof iat !== 'number' || iat * 1000 > at + tolerance) throw invalid('the token is not valid yet');
    return {
      auth: Object.freeze({ userId: sub, scopes: Object.freeze(scope === '' ? [] : scope.split(' ')), sid }),
      exp: exp * 1000,
      since: authTime * 1000,
    };
  }
}

/** A client-safe reason for a jose refusal. */
function reasonOf(jose: typeof Jose, err: unknown): string {
  if (err instanceof jose.errors.JWTExpired) return 'the token expired';
  if (err instanceof jose.errors.JWTClaimValidationFailed) {
    if (err.claim === 'nbf' || err.claim === 'iat') return 'the token is not valid yet';
    if (err.claim === 'iss' || err.claim === 'aud') return 'the token was issued for another service';
    return `the token's ${err.claim} claim is not valid`;
  }
  if (err instanceof jose.errors.JWSSignatureVerificationFailed) return 'the token signature does not verify';
  return 'the token is malformed';
}
