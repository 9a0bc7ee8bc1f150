import { INSTANCE_ENV } from 'stateline/instance';
import type { Cluster } from '../cluster.js';
import type { LabConfig } from './config.js';

/** One instance moved to the second configuration: when its restart began and when it served again. */
export interface SwitchStep {
  id: string;
  /** ms since the load began. */
  at: number;
  /** When the gateway routed to it again (ms since the load began); null if it did not in time. */
  upAt: number | null;
}

/** When the rolling switch runs, as fractions of the load's duration. */
export const SWITCH_WINDOW = { from: 0.2, to: 0.7 } as const;

/** How long an instance may take to pass its health check again. */
const UP_TIMEOUT = 20_000;

/**
 * A configuration's sessions as `STATELINE_MIGRATE_FROM` names them (`strategy[/replication]`):
 * the store, bus and balance policy belong to the cluster, which a switch keeps.
 *
 * @example
 * ```ts
 * migrateFromValue(parseConfig('memory/sticky/backup')); // 'memory/backup'
 * ```
 */
export function migrateFromValue(c: LabConfig): string {
  return c.replication === 'off' ? c.strategy : `${c.strategy}/${c.replication}`;
}

/**
 * The environment of an instance during a switch `first>second`. Before its restart it runs the
 * first configuration and already reads the second's cookies (readers are deployed first: a
 * request answered by a switched instance may come back to one that is not switched yet); after
 * it, the second configuration reading the first's.
 *
 * @example
 * ```ts
 * switchEnv(parseSwitch('token>server'), 'after'); // { STATELINE_STRATEGY: 'server', STATELINE_REPLICATION: 'off', STATELINE_MIGRATE_FROM: 'token' }
 * ```
 */
export function switchEnv(c: LabConfig, phase: 'before' | 'after'): Record<string, string> {
  const to = c.switchTo;
  if (!to) return {};
  if (phase === 'before') return { [INSTANCE_ENV.migrateFrom]: migrateFromValue(to) };
  return {
    [INSTANCE_ENV.strategy]: to.strategy,
    [INSTANCE_ENV.replication]: to.replication,
    [INSTANCE_ENV.migrateFrom]: migrateFromValue(c),
  };
}

async function routed(cluster: Cluster, id: string, until: number): Promise<boolean> {
  while (Date.now() < until) {
    if (cluster.gateway.instances().some((i) => i.id === id && i.state === 'up')) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return false;
}

/**
 * Restarts every instance in turn (graceful drain, then start) into the second configuration of
 * `config`, the first at {@link SWITCH_WINDOW}.from of the load and the others spread up to
 * `.to`, each only once the previous one serves again. Stops early when `stopped` says so.
 *
 * @example
 * ```ts
 * const steps = await rollingSwitch(cluster, parseSwitch('token>server'), 30_000, () => rec.now(), () => false);
 * ```
 */
export async function rollingSwitch(
  cluster: Cluster,
  config: LabConfig,
  durationMs: number,
  now: () => number,
  stopped: () => boolean,
): Promise<SwitchStep[]> {
  const ids = cluster.supervisor.instances().map((i) => i.id);
  const env = switchEnv(config, 'after');
  const steps: SwitchStep[] = [];
  const span = (SWITCH_WINDOW.to - SWITCH_WINDOW.from) * durationMs;
  for (const [k, id] of ids.entries()) {
    const due = SWITCH_WINDOW.from * durationMs + (ids.length > 1 ? (span * k) / (ids.length - 1) : 0);
    while (now() < due) {
      if (stopped()) return steps;
      await new Promise((r) => setTimeout(r, Math.min(50, Math.max(1, due - now()))));
    }
    if (stopped()) return steps;
    const step: SwitchStep = { id, at: Math.round(now()), upAt: null };
    steps.push(step);
    await cluster.supervisor.restart(id, { env });
    if (await routed(cluster, id, Date.now() + UP_TIMEOUT)) step.upAt = Math.round(now());
  }
  return steps;
}
