import { MemoryBus } from '../../bus/memory-bus.js';
import { ReplicatedStore } from '../../store/decorators/replicated-store.js';
import { MemoryStore } from '../../store/memory-store.js';
import type { Store } from '../../store/types.js';
import { FleetFetchStore } from '../fleet-fetch-store.js';
import { MemoryFleet } from '../memory-fleet.js';
import { RecordStrategy } from '../record-strategy.js';
import { Revocations } from '../revocations.js';
import { readThrough, type SessionStrategy, type StrategyFactory } from '../strategy.js';

/**
 * `memory`: records in this process's memory, copied to peers over the Bus when `replication` is
 * on; a user's sessions are gathered from (and revoked on) every instance by the MemoryFleet.
 * The `store` option, when given, keeps only revocations. Opened as a `fromStateline` reader
 * without replication, a record missing here is asked of the peers.
 */
export const openMemory: StrategyFactory = async ({ o, store, bus, metrics, resources, reader }) => {
  const local = resources.own(new MemoryStore({ maxEntries: o.maxSessions, now: o.now }));
  const shared = store === undefined ? undefined : await resources.store(store);
  // An unreplicated memory manager without a Bus is alone: it gets a hub of its own.
  const peers =
    bus === undefined && o.replication === 'off'
      ? resources.own(new MemoryBus({ hub: {} }))
      : shared
        ? await resources.busBeside(shared, bus, 'memory sessions (replication and revocation)')
        : await resources.bus(bus ?? 'memory:');
  const revocations = resources.own(
    new Revocations(shared ?? local, peers, o.now, o.revocationSync, o.absolute, !shared, o.logger),
  );
  await revocations.start();
  const fleet = resources.own(
    await MemoryFleet.open(local, peers, revocations, {
      instanceId: o.instanceId,
      idle: o.idle,
      absolute: o.absolute,
      now: o.now,
      ...(reader ? { timeout: o.replicationTimeout } : {}),
    }),
  );
  let records: Store = local;
  if (o.replication !== 'off') {
    const replicated = resources.own(
      await ReplicatedStore.open(local, peers, {
        mode: o.replication,
        instanceId: o.instanceId,
        timeout: o.replicationTimeout,
      }),
    );
    readThrough(metrics, {
      replicationDegraded: () => replicated.metrics.replicationDegraded,
      replicationRerouted: () => replicated.metrics.replicationRerouted,
      replicaFetchFailures: () => replicated.metrics.replicaFetchFailures,
      replicasFetched: () => replicated.metrics.replicasFetched,
    });
    replicated.onCopy = (key, rec) => fleet.adopt(key, rec);
    records = replicated;
  } else if (reader) {
    const fetching = new FleetFetchStore(local, fleet);
    readThrough(metrics, { replicasFetched: () => fetching.fetched });
    records = fetching;
  }
  const sessions = new RecordStrategy({ o, metrics, store: records, revocations }, local);
  return {
    store: local,
    revocations,
    load: (request) => sessions.load(request),
    degraded: (request) => sessions.degraded(request),
    list: (userId) => fleet.list(userId),
    revoke: (handle, userId) => fleet.revoke(handle, userId),
    revokeAll: (userId) => fleet.revokeAll(userId),
    open: (request) => sessions.open(request),
  } satisfies SessionStrategy;
};
