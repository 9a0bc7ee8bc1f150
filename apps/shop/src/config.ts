import { randomBytes } from 'node:crypto';
import { INSTANCE_ENV, migrateFromEnv, type MigrateFrom } from 'stateline/instance';
import type { SessionStrategy } from 'stateline/session';

/** The environment variables the shop reads besides the cluster's ({@link INSTANCE_ENV}). */
export const SHOP_ENV = {
  demoPassword: 'STATELINE_DEMO_PASSWORD',
  users: 'STATELINE_SHOP_USERS',
  logLevel: 'LOG_LEVEL',
  trustedProxies: 'STATELINE_TRUSTED_PROXIES',
  allowedOrigins: 'STATELINE_ALLOWED_ORIGINS',
  csrf: 'STATELINE_CSRF',
  tokenIssuer: 'STATELINE_TOKEN_ISSUER',
  /** The gateway's balancing policy, set by `stateline up` (shown in the banner). */
  balance: 'STATELINE_BALANCE',
} as const;

/** The `iss` of the shop's access tokens unless `STATELINE_TOKEN_ISSUER` says otherwise. */
export const DEFAULT_TOKEN_ISSUER = 'urn:stateline:shop';

/** The password of every seeded user unless `STATELINE_DEMO_PASSWORD` says otherwise. */
export const DEFAULT_DEMO_PASSWORD = 'stateline';

/** The local gateway: `stateline up` runs it on this host, in front of instances on loopback. */
const DEFAULT_TRUSTED_PROXIES = ['127.0.0.1', '::1'];

const STRATEGIES: readonly SessionStrategy[] = ['server', 'token', 'memory', 'hybrid'];
const REPLICATIONS = ['off', 'backup', 'all'] as const;
/** More virtual users than this would only slow start-up down (a Store write each; a lab run with `--scale`/`--state-size` seeds its users for every row). */
export const MAX_SEEDED_USERS = 100_000;

/** Everything one shop instance is configured with. */
export interface ShopConfig {
  instance: string;
  strategy: SessionStrategy;
  storeSpec: string;
  /** Where sessions live when not in `storeSpec` (`STATELINE_SESSION_STORE`, e.g. memcached). */
  sessionStoreSpec: string | undefined;
  busSpec: string;
  replication: (typeof REPLICATIONS)[number];
  /** The gateway's balancing policy in front of this instance, when known. */
  balance: string | null;
  sessionKeys: string[];
  /** Seeds of the token signing keys (32 bytes each, newest first; see ./token-keys.ts). */
  tokenKeySeeds: Buffer[];
  /** The `iss` of the access tokens this shop signs and accepts. */
  tokenIssuer: string;
  demoPassword: string;
  /** How many `user<n>` accounts to seed besides alice, bob and carol. */
  extraUsers: number;
  logLevel: string;
  /** Peers whose X-Forwarded-* are believed (addresses, CIDR ranges, `loopback`). */
  trustedProxies: string[];
  /** Set by `stateline up`: X-Forwarded-* are believed only with `X-Stateline-Gateway: <this>`. */
  gatewaySecret: string | undefined;
  /** Origins besides the shop's own that may send it unsafe requests. */
  allowedOrigins: string[];
  /** The CSRF check on unsafe API requests (`STATELINE_CSRF=off` turns it off). */
  csrf: boolean;
  /** `STATELINE_MIGRATE_FROM`: the session configuration whose cookies are still accepted, or null. */
  migrateFrom: MigrateFrom | null;
}

/**
 * Reads the shop's configuration from the environment (the cluster's `STATELINE_*` variables and
 * {@link SHOP_ENV}); throws one readable line for a value it cannot use.
 *
 * @example
 * ```ts
 * const config = readConfig({ STATELINE_STRATEGY: 'token', STATELINE_SHOP_USERS: '50' });
 * config.extraUsers; // 50
 * ```
 */
export function readConfig(env: NodeJS.ProcessEnv = process.env): ShopConfig {
  const strategy = (env[INSTANCE_ENV.strategy] || 'server') as SessionStrategy;
  if (!STRATEGIES.includes(strategy))
    throw new Error(`${INSTANCE_ENV.strategy} must be one of ${STRATEGIES.join(', ')} (got ${strategy})`);
  const replication = (env[INSTANCE_ENV.replication] || 'off') as ShopConfig['replication'];
  if (!REPLICATIONS.includes(replication))
    throw new Error(
      `${INSTANCE_ENV.replication} must be one of ${REPLICATIONS.join(', ')} (got ${replication})`,
    );
  const rawUsers = env[SHOP_ENV.users] ?? '';
  const extraUsers = rawUsers === '' ? 0 : Number(rawUsers);
  if (!Number.isInteger(extraUsers) || extraUsers < 0 || extraUsers > MAX_SEEDED_USERS)
    throw new Error(
      `${SHOP_ENV.users} must be a whole number from 0 to ${MAX_SEEDED_USERS} (got ${rawUsers})`,
    );
  let sessionKeys = (env[INSTANCE_ENV.sessionKeys] ?? '').split(',').filter(Boolean);
  // Alone, a random key is fine; in a cluster the supervisor hands every instance the same one.
  if (sessionKeys.length === 0) sessionKeys = [randomBytes(32).toString('base64url')];
  const tokenKeySeeds = (env[INSTANCE_ENV.tokenKeys] ?? '')
    .split(',')
    .filter(Boolean)
    .map((raw) => {
      const seed = Buffer.from(raw, 'base64url');
      if (seed.length !== 32 || seed.toString('base64url') !== raw)
        throw new Error(`${INSTANCE_ENV.tokenKeys} must hold base64url seeds of 32 bytes each`);
      return seed;
    });
  // Alone, a random key is fine; in a cluster the supervisor hands every instance the same ones.
  if (tokenKeySeeds.length === 0) tokenKeySeeds.push(randomBytes(32));
  const list = (v: string | undefined) =>
    (v ?? '')
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
  const rawProxies = env[SHOP_ENV.trustedProxies];
  const csrf = (env[SHOP_ENV.csrf] || 'on').toLowerCase();
  if (csrf !== 'on' && csrf !== 'off') throw new Error(`${SHOP_ENV.csrf} must be on or off (got ${csrf})`);
  return {
    instance: env[INSTANCE_ENV.id] || `pid-${process.pid}`,
    strategy,
    storeSpec: env[INSTANCE_ENV.store] || 'sqlite:.stateline/state.db',
    sessionStoreSpec: env[INSTANCE_ENV.sessionStore] || undefined,
    busSpec: env[INSTANCE_ENV.bus] || (process.connected ? 'ipc:' : 'memory:'),
    replication,
    balance: env[SHOP_ENV.balance] || null,
    sessionKeys,
    tokenKeySeeds,
    tokenIssuer: env[SHOP_ENV.tokenIssuer] || DEFAULT_TOKEN_ISSUER,
    demoPassword: env[SHOP_ENV.demoPassword] || DEFAULT_DEMO_PASSWORD,
    extraUsers,
    logLevel: env[SHOP_ENV.logLevel] || 'info',
    // Set but empty: no proxy is trusted, every request is judged by its socket.
    trustedProxies: rawProxies === undefined ? DEFAULT_TRUSTED_PROXIES : list(rawProxies),
    gatewaySecret: env[INSTANCE_ENV.gatewaySecret] || undefined,
    allowedOrigins: list(env[SHOP_ENV.allowedOrigins]),
    csrf: csrf === 'on',
    migrateFrom: migrateFromEnv(env),
  };
}
