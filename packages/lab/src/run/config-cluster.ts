import { INSTANCE_ENV, type Workload } from 'stateline/instance';
import { startCluster, type Cluster } from '../cluster.js';
import type { ProxyKind } from '../cluster-options.js';
import { impairUnavailable, NetFaults } from '../netns/net-faults.js';
import type { NetTopology } from '../netns/topology.js';
import type { LabConfig } from './config.js';
import { prepareBus } from './lab-bus.js';
import { switchEnv } from './rolling-switch.js';
import { prepareStore, type LabStoreHandle } from './store-server.js';

/** Options of {@link openConfigCluster}. */
export interface ConfigClusterOptions {
  config: LabConfig;
  app: string;
  workload: Workload<unknown>;
  /** Instance slots `i1…iN`: the largest instance count the cluster will serve with. */
  slots: number;
  /** How many of them start now. */
  start: number;
  /** Users the app seeds (the workload's `env(users)`): every cell's users, each cell its own. */
  seededUsers: number;
  postgres: string;
  env?: Record<string, string>;
  stdio?: 'ignore' | 'inherit';
  net?: NetTopology;
  proxy?: ProxyKind;
  /**
   * Put a delay relay between each instance slot and the store server before the instances start
   * (the `latency` fault slows the connections they open at start-up; needs `net`).
   */
  relayStore?: boolean;
}

/** A config's Store and cluster, kept across the lab's cells (instance counts, state sizes). */
export interface ConfigCluster {
  readonly cluster: Cluster;
  readonly store: LabStoreHandle;
  /** The `storeHost` the store server was placed on (`--network netns`). */
  readonly storeHost: { address: string; wrap: string[] } | undefined;
  /** How long the first start took (ms). */
  readonly startupMs: number;
  /** The faults of `net` for this cluster's hosts (closed with the cluster); null without `net`. */
  readonly netFaults: NetFaults | null;
  /** Why the `latency` fault cannot slow this cluster's store link; null when it can. */
  readonly noLatency: string | null;
  /**
   * Makes `i1…i<n>` up and routed and the other slots down (starting or stopping what differs,
   * and starting again what a fault left down); resolves with the milliseconds it took.
   */
  serve(n: number): Promise<number>;
  /** Stops the cluster and the Store (the same promise on every call). */
  close(): Promise<void>;
}

const ROUTED_TIMEOUT = 30_000;

async function routed(cluster: Cluster, ids: readonly string[]): Promise<void> {
  const until = Date.now() + ROUTED_TIMEOUT;
  for (;;) {
    const up = new Set(
      cluster.gateway
        .instances()
        .filter((i) => i.state === 'up')
        .map((i) => i.id),
    );
    if (ids.every((id) => up.has(id))) return;
    if (Date.now() > until) throw new Error(`instances ${ids.join(', ')} were not routed within 30 s`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Prepares a config's Store (and Bus) and starts its cluster with `slots` instance slots of which
 * the first `start` run; the lab then runs cell after cell on it ({@link ConfigCluster.serve}
 * sets the instance count of each), instead of a fresh cluster per cell. Skipped (with the reason)
 * when the Store or Bus is unavailable or the cluster does not start.
 *
 * @example
 * ```ts
 * const c = await openConfigCluster({ config, app, workload, slots: 4, start: 1, seededUsers: 300, postgres });
 * if (!('skipped' in c)) { await c.serve(2); await c.close(); }
 * ```
 */
export async function openConfigCluster(
  o: ConfigClusterOptions,
): Promise<ConfigCluster | { skipped: string }> {
  const { config } = o;
  const bus = await prepareBus(config.bus);
  if ('skipped' in bus) return bus;
  const storeHost = o.net
    ? { address: o.net.host('store').address, wrap: ['ip', 'netns', 'exec', o.net.host('store').ns] }
    : undefined;
  const store = await prepareStore(config.store, {
    postgres: o.postgres,
    ...(storeHost ? { storeHost } : {}),
  });
  if ('skipped' in store) return store;
  const netFaults = o.net ? new NetFaults(o.net) : null;
  let noLatency: string | null = !o.net
    ? 'network faults need --network netns'
    : !storeHost || !store.spec.includes(storeHost.address)
      ? `its ${config.store} store has no host of its own to slow the link to; the lab's redis has one`
      : null;
  // The relays sit between each slot and the store server from the start, at 0 ms, so the
  // connections the instances open go through them (see NetFaults.interpose).
  if (o.relayStore && netFaults && noLatency === null) {
    noLatency = await impairUnavailable(o.net!);
    const port = Number(
      new RegExp(`${storeHost!.address.replaceAll('.', '\\.')}:(\\d+)`).exec(store.spec)?.[1],
    );
    for (let k = 1; k <= o.slots && noLatency === null; k++)
      await netFaults.interpose(`i${k}`, ['store'], port).catch((err: Error) => {
        noLatency = `no delay relay: ${err.message}`;
      });
  }
  const startedAt = performance.now();
  let cluster: Cluster;
  try {
    cluster = await startCluster({
      port: 0,
      instances: o.slots,
      start: o.start,
      app: o.app,
      strategy: config.strategy,
      store: store.spec,
      // an explicit bus segment (nats) wins; a redis-cluster store brings its own bus
      bus: config.bus === 'ipc' ? (store.bus ?? bus.spec) : bus.spec,
      balance: config.balance,
      replication: config.replication,
      proxy: o.proxy ?? 'builtin',
      stdio: o.stdio ?? 'ignore',
      ...(o.net ? { placement: o.net.placement() } : {}),
      env: {
        ...o.workload.env?.(o.seededUsers),
        ...(store.sessionSpec ? { [INSTANCE_ENV.sessionStore]: store.sessionSpec } : {}),
        LOG_LEVEL: 'silent',
        ...o.env,
        ...switchEnv(config, 'before'),
      },
    });
  } catch (err) {
    await netFaults?.close().catch(() => {});
    await store.close().catch(() => {});
    return { skipped: `the cluster did not start: ${(err as Error).message}` };
  }
  const startupMs = Math.round(performance.now() - startedAt);
  const c = cluster;
  let closing: Promise<void> | undefined;
  return {
    cluster: c,
    store,
    storeHost,
    startupMs,
    netFaults,
    noLatency,
    async serve(n) {
      const t0 = performance.now();
      const slots = c.supervisor.instances().map((i) => i.id);
      const wanted = slots.slice(0, n);
      await Promise.all([
        ...wanted.map((id) => c.supervisor.startInstance(id)),
        ...slots.slice(n).map((id) => c.supervisor.stop(id)),
      ]);
      await routed(c, wanted);
      return Math.round(performance.now() - t0);
    },
    close: () =>
      (closing ??= (async () => {
        await c.close().catch(() => {});
        await netFaults?.close().catch(() => {});
        await store.close().catch(() => {});
      })()),
  };
}
