import type { Bus, BusSpec } from '../bus/types.js';
import type { SessionManager } from '../session/types.js';
import type { Duration } from '../session/types.js';
import type { Store, StoreSpec } from '../store/types.js';

/** The signature algorithms a token key may use: Ed25519 (default) or ECDSA P-256. */
export type TokenAlgorithm = 'EdDSA' | 'ES256';

/** A JSON Web Key (RFC 7517), as jose exports and imports it. */
export interface TokenJwk {
  kty: string;
  crv?: string;
  x?: string;
  y?: string;
  /** The private part; never published. */
  d?: string;
  kid?: string;
  alg?: string;
  use?: string;
  [member: string]: unknown;
}

/**
 * One signing key of the ring, as {@link generateTokenKey} makes it. `alg` is pinned: a token whose
 * header names this `kid` with any other `alg` is refused. A key kept only to verify tokens it
 * signed before a rotation may carry `publicJwk` alone.
 */
export type TokenKey =
  | { kid: string; alg: TokenAlgorithm; privateJwk: TokenJwk }
  | { kid: string; alg: TokenAlgorithm; publicJwk: TokenJwk };

/** Where {@link Tokens} write what they report; `warn` gets theft detections and failed cleanups. */
export interface TokensLogger {
  warn(message: string, details?: Record<string, unknown>): void;
}

/** Options of {@link createTokens}. Unknown keys are refused with `SL_ERR_INVALID_OPTION`. */
export interface TokensOptions {
  /** Newest first: the first signs (and must hold its private key), every one verifies and is published. */
  keys: readonly TokenKey[];
  /** The manager whose Store, Bus and revocations the tokens share, and whose `list`/`revoke`/`revokeAll` cover token families. */
  sessions: SessionManager;
  /** `iss` of every access token, and the only one accepted. */
  issuer: string;
  /** `aud` of every access token, and the only one accepted (a list: any of them). */
  audience: string | readonly string[];
  /** Lifetime of an access token (default `'10m'`). */
  accessTtl?: Duration;
  /** Lifetime of a refresh token; every refresh issues a new one for as long again (default `'30d'`). */
  refreshTtl?: Duration;
  /** Leeway for `exp`, `nbf` and `iat` against clocks that disagree (default `'5s'`, at most `'1m'`). */
  clockTolerance?: Duration;
  /** Refresh families here instead of in the manager's Store (and revocations on this Store and `bus`). */
  store?: StoreSpec | Store;
  /** With `store`: the Bus for revocations (default: the manager's `bus` option). */
  bus?: BusSpec | Bus;
  /** Verified access tokens remembered (so a repeated token skips the signature check); default 10,000, 0: off. */
  cacheSize?: number;
  logger?: TokensLogger;
}

/** What {@link Tokens.issue} and {@link Tokens.refresh} return (the fields of an OAuth 2 token response). */
export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  /** Seconds until the access token expires. */
  expiresIn: number;
  /** The family's handle, as `sessions.list()` shows it and `sessions.revoke()` takes it. */
  handle: string;
}

/** A verified access token: `req.auth` behind the `bearer` middleware. */
export interface BearerAuth {
  userId: string;
  scopes: readonly string[];
  /** The token family (its handle). */
  sid: string;
}

export interface IssueOptions {
  /** Granted scopes, kept by the family across refreshes (default none). */
  scopes?: readonly string[];
  /** Shown by `sessions.list()`. */
  userAgent?: string | undefined;
}

export interface RefreshOptions {
  /**
   * A key the client sends with one refresh and its retries (an `Idempotency-Key`): the successor
   * is derived from the presented token, this key and the signing key, so every instance answers a
   * retry with the same refresh token, with nothing stored. A retry within a minute of the rotation
   * it made is answered; any other second use still revokes the family.
   */
  retryKey?: string;
}

export interface VerifyOptions {
  /** Every one of these must be granted, else `SL_ERR_TOKEN_SCOPE` (403). */
  scopes?: readonly string[];
}

/** Counters of what the tokens did and refused. */
export interface TokenMetrics {
  /** Families started by `issue`. */
  issued: number;
  /** Successful refreshes (rotations). */
  refreshed: number;
  /** Refresh tokens presented after they were rotated: each revoked its family. */
  reuseDetected: number;
  /** Access tokens refused (malformed, bad signature, expired, wrong issuer or audience, revoked). */
  refused: number;
  /** Of `refused`: valid tokens whose family or user was revoked. */
  revokedRefused: number;
  /** Refresh tokens refused (unknown, expired, reused). */
  refreshRefused: number;
  /** Access tokens answered from the verified cache. */
  cacheHits: number;
}

/** A JSON Web Key Set of public keys, as `GET /.well-known/jwks.json` serves it. */
export interface JwksDocument {
  keys: TokenJwk[];
}

/**
 * Bearer access tokens and rotating refresh tokens for API clients, revocable with the sessions of
 * the manager they are built on.
 *
 * @example
 * ```ts
 * const pair = await tokens.issue('alice', { scopes: ['orders:read'] });
 * const auth = await tokens.verify(pair.accessToken, { scopes: ['orders:read'] });
 * const next = await tokens.refresh(pair.refreshToken);
 * ```
 */
export interface Tokens {
  readonly issuer: string;
  readonly metrics: Readonly<TokenMetrics>;
  /** Seconds an access token lives. */
  readonly accessTtl: number;
  /** Starts a family for `userId`: an access token and its first refresh token. */
  issue(userId: string, options?: IssueOptions): Promise<TokenPair>;
  /**
   * Rotates a refresh token: a new pair, the presented token spent. A spent token presented again
   * revokes its whole family (theft detection); both answer `SL_ERR_REFRESH_INVALID`. With
   * `retryKey`, the same token and key presented again within a minute of the rotation they made
   * get the same refresh token (and a new access token) instead: a client's retry of a refresh
   * whose answer was lost is not taken for theft.
   */
  refresh(refreshToken: string, options?: RefreshOptions): Promise<TokenPair>;
  /** Checks an access token with no Store round trip; rejects with `SL_ERR_TOKEN_INVALID` or `SL_ERR_TOKEN_SCOPE`. */
  verify(accessToken: string, options?: VerifyOptions): Promise<BearerAuth>;
  /**
   * What the `bearer` middleware runs: reads `Authorization: Bearer …` and verifies it, without a
   * promise when the token was verified before. Throws (or rejects with) the same errors as
   * `verify`; a request without a bearer token gets `SL_ERR_TOKEN_INVALID` marked as missing
   * credentials (see {@link bearerProblem}).
   */
  authenticate(authorization: string | undefined, options?: VerifyOptions): BearerAuth | Promise<BearerAuth>;
  /** The public keys of the ring: what `GET /.well-known/jwks.json` serves. */
  jwks(): JwksDocument;
  /** Stops listening for revocations that this instance owns; the manager's stay with it. */
  close(): Promise<void>;
}
