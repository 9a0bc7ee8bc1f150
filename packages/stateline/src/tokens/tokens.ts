import { createHash } from 'node:crypto';
import type * as Jose from 'jose';
import type { Bus } from '../bus/types.js';
import { StatelineError } from '../errors.js';
import { parseDuration } from '../internal/duration.js';
import { loadPeer } from '../internal/peer.js';
import { checkUserId } from '../session/base-session.js';
import { hostOf } from '../session/host.js';
import { Resources } from '../session/resources.js';
import { Revocations } from '../session/revocations.js';
import { AccessTokens, invalid, MAX_TOKEN_LENGTH } from './access.js';
import { Families, type Rotated } from './families.js';
import { TokenKeyRing } from './key-ring.js';
import { markMissing } from './bearer-problem.js';
import type {
  BearerAuth,
  IssueOptions,
  JwksDocument,
  RefreshOptions,
  TokenMetrics,
  TokenPair,
  Tokens,
  TokensOptions,
  VerifyOptions,
} from './types.js';

const OPTIONS = new Set([
  'keys',
  'sessions',
  'issuer',
  'audience',
  'accessTtl',
  'refreshTtl',
  'clockTolerance',
  'store',
  'bus',
  'cacheSize',
  'logger',
]);
const MAX_TOLERANCE = 60_000;
const SCOPE = /^[\x21\x23-\x5b\x5d-\x7e]+$/;
const NO_SCOPES: readonly string[] = [];

function bad(detail: string): StatelineError {
  return new StatelineError('SL_ERR_INVALID_OPTION', detail);
}

function checkScopes(scopes: unknown): string[] {
  if (scopes === undefined) return [];
  if (!Array.isArray(scopes) || !scopes.every((s) => typeof s === 'string' && SCOPE.test(s)))
    throw new StatelineError(
      'SL_ERR_INVALID_ARGUMENT',
      'scopes must be an array of scope tokens (visible ASCII, no space, quote or backslash)',
    );
  return [...new Set(scopes as string[])];
}

/**
 * Creates bearer access tokens and rotating refresh tokens on a session manager: families live in
 * its Store, revocations travel on its Bus, and `sessions.list/revoke/revokeAll` cover them.
 * Needs the optional package `jose`.
 *
 * @example
 * ```ts
 * import { createSessions } from 'stateline/session';
 * import { createTokens, generateTokenKey } from 'stateline/tokens';
 * const sessions = await createSessions({ strategy: 'server', store: 'redis://127.0.0.1:6379', bus: 'redis://127.0.0.1:6379', keys: [process.env.SESSION_KEY] });
 * const tokens = await createTokens({
 *   keys: [await generateTokenKey('EdDSA')],
 *   sessions,
 *   issuer: 'https://shop.example',
 *   audience: 'shop-api',
 * });
 * const pair = await tokens.issue('alice', { scopes: ['orders:read'] });
 * ```
 */
export async function createTokens(options: TokensOptions): Promise<Tokens> {
  if (!options || typeof options !== 'object') throw bad('createTokens needs an options object');
  for (const k of Object.keys(options)) if (!OPTIONS.has(k)) throw bad(`unknown option ${JSON.stringify(k)}`);
  const host = hostOf(options.sessions);
  if (typeof options.issuer !== 'string' || options.issuer === '')
    throw bad('issuer must be a non-empty string');
  const audience = options.audience;
  if (
    !(typeof audience === 'string' && audience !== '') &&
    !(
      Array.isArray(audience) &&
      audience.length > 0 &&
      audience.every((a) => typeof a === 'string' && a !== '')
    )
  )
    throw bad('audience must be a non-empty string or a non-empty array of them');
  const accessMs = parseDuration(options.accessTtl ?? '10m', 'accessTtl');
  const refreshTtl = parseDuration(options.refreshTtl ?? '30d', 'refreshTtl');
  const tolerance = parseDuration(options.clockTolerance ?? '5s', 'clockTolerance');
  if (accessMs < 1000 || accessMs % 1000 !== 0)
    throw bad('accessTtl must be a whole number of seconds, at least 1s');
  if (refreshTtl <= accessMs) throw bad('refreshTtl must be longer than accessTtl');
  if (tolerance > MAX_TOLERANCE) throw bad(`clockTolerance must be at most ${MAX_TOLERANCE / 1000}s`);
  const accessWindow = accessMs + tolerance;
  const cacheSize = options.cacheSize ?? 10_000;
  if (!Number.isInteger(cacheSize) || cacheSize < 0) throw bad('cacheSize must be an integer >= 0');
  const jose = await loadPeer<typeof Jose>('jose', 'stateline/tokens');
  const ring = await TokenKeyRing.open(jose, options.keys);

  const own = new Resources();
  try {
    let store = host.store;
    let revocations: Revocations;
    if (options.store !== undefined) {
      store = await own.store(options.store);
      const bus: Bus = options.bus !== undefined ? await own.bus(options.bus) : await host.bus(store);
      revocations = own.own(new Revocations(store, bus, host.now, host.revocationSync, accessWindow));
      await revocations.start();
    } else {
      if (options.bus !== undefined)
        throw bad('bus is only for use with store (else the manager’s Bus is used)');
      revocations = await host.revocations();
    }
    const metrics: TokenMetrics = {
      issued: 0,
      refreshed: 0,
      reuseDetected: 0,
      refused: 0,
      revokedRefused: 0,
      refreshRefused: 0,
      cacheHits: 0,
    };
    const access = new AccessTokens({
      jose,
      ring,
      revocations,
      metrics,
      now: host.now,
      issuer: options.issuer,
      audience,
      ttl: accessMs / 1000,
      tolerance,
      cacheSize,
    });
    const families = new Families({
      store,
      revocations,
      metrics,
      now: host.now,
      refreshTtl,
      accessWindow,
      logger: options.logger,
      retrySecret: retrySecret(options.keys),
    });
    const detach = host.attach(families);
    return new TokenService(options.issuer, accessMs / 1000, metrics, access, families, ring, async () => {
      detach();
      await own.close();
    });
  } catch (err) {
    await own.close();
    throw err;
  }
}

/** What retried refreshes derive their successor with: the signing key's private part, hashed. */
function retrySecret(keys: TokensOptions['keys']): Buffer {
  const signer = keys[0];
  const d = signer && 'privateJwk' in signer ? String(signer.privateJwk.d ?? '') : '';
  return createHash('sha256').update('stateline/tokens retried refresh\0').update(d).digest();
}

const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

class TokenService implements Tokens {
  private closed = false;

  constructor(
    readonly issuer: string,
    readonly accessTtl: number,
    readonly metrics: TokenMetrics,
    private readonly access: AccessTokens,
    private readonly families: Families,
    private readonly ring: TokenKeyRing,
    private readonly release: () => Promise<void>,
  ) {}

  private live(): void {
    if (this.closed) throw new StatelineError('SL_ERR_CLOSED', 'the tokens were closed');
  }

  private async pair(f: Rotated): Promise<TokenPair> {
    return {
      accessToken: await this.access.sign(f.userId, f.handle, f.scopes, f.since),
      refreshToken: f.refreshToken,
      tokenType: 'Bearer',
      expiresIn: this.accessTtl,
      handle: f.handle,
    };
  }

  async issue(userId: string, options: IssueOptions = {}): Promise<TokenPair> {
    this.live();
    const user = checkUserId(userId);
    const f = await this.families.start(user, checkScopes(options.scopes), options.userAgent);
    this.metrics.issued++;
    return this.pair(f);
  }

  async refresh(refreshToken: string, options: RefreshOptions = {}): Promise<TokenPair> {
    this.live();
    const { retryKey } = options;
    if (retryKey !== undefined && (typeof retryKey !== 'string' || retryKey === '' || retryKey.length > 255))
      throw bad('retryKey must be a string of 1 to 255 characters');
    return this.pair(await this.families.rotate(refreshToken, retryKey));
  }

  async verify(accessToken: string, options: VerifyOptions = {}): Promise<BearerAuth> {
    this.live();
    return this.access.verify(accessToken, options.scopes ?? NO_SCOPES);
  }

  authenticate(
    authorization: string | undefined,
    options: VerifyOptions = {},
  ): BearerAuth | Promise<BearerAuth> {
    this.live();
    if (authorization === undefined || !/^bearer(?: |$)/i.test(authorization))
      throw markMissing(invalid('the request carries no bearer token'));
    const m = authorization.length <= MAX_TOKEN_LENGTH + 16 ? BEARER.exec(authorization) : null;
    if (!m) {
      this.metrics.refused++;
      throw invalid('the Authorization header is not a well-formed bearer token');
    }
    const token = m[1]!;
    const scopes = options.scopes ?? NO_SCOPES;
    return this.access.cached(token, scopes) ?? this.access.verify(token, scopes);
  }

  jwks(): JwksDocument {
    return this.ring.jwks();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.release();
  }
}
