import { StatelineError } from '../errors.js';
import type { SessionStrategyName } from '../session/types.js';
import { INSTANCE_ENV } from './env.js';

const STRATEGIES: readonly SessionStrategyName[] = ['server', 'token', 'memory', 'hybrid'];
const REPLICATIONS = ['off', 'backup', 'all'] as const;

/** A previous session configuration named by `STATELINE_MIGRATE_FROM`. */
export interface MigrateFrom {
  strategy: SessionStrategyName;
  replication: (typeof REPLICATIONS)[number];
}

/**
 * Reads `STATELINE_MIGRATE_FROM` (`strategy[/replication]`, e.g. `token`, `memory/backup`): the
 * session configuration an instance still accepts cookies of while a rolling restart switches
 * strategy. The Store, Bus and keys are the instance's own (`STATELINE_STORE`, `STATELINE_BUS`,
 * `STATELINE_SESSION_KEYS`): a switch keeps them. Null when unset; a value it cannot use throws
 * `SL_ERR_INVALID_OPTION` with one line.
 *
 * @example
 * ```ts
 * import { migrateFromEnv } from 'stateline/instance';
 * import { fromStateline } from 'stateline/migrate';
 * const previous = migrateFromEnv();
 * const migrate = previous ? [fromStateline({ ...previous, keys, store, bus })] : [];
 * ```
 */
export function migrateFromEnv(env: NodeJS.ProcessEnv = process.env): MigrateFrom | null {
  const raw = env[INSTANCE_ENV.migrateFrom]?.trim();
  if (!raw) return null;
  const [strategy, replication = 'off', ...rest] = raw.split('/');
  const bad = (why: string) =>
    new StatelineError('SL_ERR_INVALID_OPTION', `${INSTANCE_ENV.migrateFrom}=${raw}: ${why}`);
  if (!STRATEGIES.includes(strategy as SessionStrategyName))
    throw bad(`the strategy must be one of ${STRATEGIES.join(', ')}`);
  if (rest.length > 0 || !(REPLICATIONS as readonly string[]).includes(replication))
    throw bad(`write strategy[/replication], replication one of ${REPLICATIONS.join(', ')}`);
  if (replication !== 'off' && strategy !== 'memory') throw bad('replication applies to memory only');
  return {
    strategy: strategy as SessionStrategyName,
    replication: replication as MigrateFrom['replication'],
  };
}
