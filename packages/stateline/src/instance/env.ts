import { hostname } from 'node:os';
import { StatelineError } from '../errors.js';

/**
 * The environment a cluster gives each instance: a supervisor (`stateline up`) sets these, an
 * orchestrator or a shell sets them by hand, and the app reads them.
 *
 * @example
 * ```ts
 * import { INSTANCE_ENV } from 'stateline/instance';
 * const store = await createStore(process.env[INSTANCE_ENV.store] ?? 'memory:');
 * ```
 */
export const INSTANCE_ENV = {
  id: 'STATELINE_INSTANCE_ID',
  strategy: 'STATELINE_STRATEGY',
  store: 'STATELINE_STORE',
  /** The Store sessions live in when it is not `store`, e.g. memcached beside a durable database. */
  sessionStore: 'STATELINE_SESSION_STORE',
  bus: 'STATELINE_BUS',
  replication: 'STATELINE_REPLICATION',
  sessionKeys: 'STATELINE_SESSION_KEYS',
  /**
   * Seeds of the bearer-token signing keys, comma-separated base64url (32 bytes each, newest
   * first): every instance gets the same ones, so any of them verifies what another signed.
   */
  tokenKeys: 'STATELINE_TOKEN_KEYS',
  /** The value of the gateway's {@link GATEWAY_PROOF_HEADER}: only requests with it are the gateway's. */
  gatewaySecret: 'STATELINE_GATEWAY_SECRET',
  /**
   * The session configuration whose cookies this instance also accepts (`fromStateline`), as
   * `strategy[/replication]`, e.g. `token` or `memory/backup`; read with `migrateFromEnv()`.
   */
  migrateFrom: 'STATELINE_MIGRATE_FROM',
} as const;

/**
 * The header a gateway sets on every request it forwards (dropping a client's copy), with the
 * secret an instance gets as `STATELINE_GATEWAY_SECRET`: proof that `X-Forwarded-*` came from it.
 *
 * @example
 * ```ts
 * import { GATEWAY_PROOF_HEADER, INSTANCE_ENV } from 'stateline/instance';
 * const fromGateway = req.headers[GATEWAY_PROOF_HEADER] === process.env[INSTANCE_ENV.gatewaySecret];
 * ```
 */
export const GATEWAY_PROOF_HEADER = 'x-stateline-gateway';

/** `STATELINE_INSTANCE_ID`, else `<host>-<pid>`. */
export function instanceIdFromEnv(): string {
  return process.env[INSTANCE_ENV.id] || `${hostname()}-${process.pid}`;
}

/** `PORT`, else 0 under a supervisor (it learns the port) and 3000 on its own. */
export function portFromEnv(supervised: boolean): number {
  const raw = process.env.PORT;
  if (raw === undefined || raw === '') return supervised ? 0 : 3000;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new StatelineError('SL_ERR_INVALID_OPTION', `PORT must be a port number (got ${raw})`);
  return n;
}
