import { createBus, MemoryBus } from '../bus/index.js';
import type { Bus } from '../bus/types.js';
import { isStatelineError } from '../errors.js';
import { createStore, MemoryStore, NearCacheStore } from '../store/index.js';
import type { Store } from '../store/types.js';
import { MemoryFleet } from './memory-fleet.js';
import { resolveOptions } from './options.js';
import { ReplicatedStore } from './replication.js';
import { RecordStrategy } from './record-strategy.js';
import { Revocations } from './revocations.js';
import { TokenStrategy } from './token-strategy.js';
import type { RequestContext, Session, SessionManager, SessionMetrics, SessionOptions } from './types.js';

export const DEFAULT_STORE = 'sqlite:.stateline/state.db';

function isStore(x: unknown): x is Store {
  return (
    !!x &&
    typeof x === 'object' &&
    typeof (x as Store).get === 'function' &&
    typeof (x as Store).update === 'function'
  );
}
function isBus(x: unknown): x is Bus {
  return !!x && typeof x === 'object' && typeof (x as Bus).publish === 'function';
}

/**
 * Creates the session manager: one per process, shared by every request.
 *
 * @example
 * ```ts
 * import { createSessions } from 'stateline/session';
 * const sessions = await createSessions({
 *   strategy: 'server',
 *   store: 'redis://127.0.0.1:6379',
 *   keys: [process.env.SESSION_KEY],
 *   idleTimeout: '30m',
 *   absoluteTimeout: '8h',
 * });
 * ```
 */
export async function createSessions(options: SessionOptions): Promise<SessionManager> {
  const o = resolveOptions(options);
  const closers: (() => Promise<void>)[] = [];
  const metrics: SessionMetrics = {
    invalidCookies: 0,
    expired: 0,
    storeErrors: 0,
    conflictsResolved: 0,
    revokedRefused: 0,
    replicationDegraded: 0,
    replicasFetched: 0,
    nearCacheHits: 0,
    nearCacheMisses: 0,
  };
  try {
    let store: Store;
    /** `memory`: where revocations are kept (a shared Store when given, else this process's own). */
    let shared: Store | undefined;
    if (o.strategy === 'memory') {
      store = new MemoryStore({ maxEntries: o.maxSessions, now: o.now });
      closers.push(() => store.close());
      if (isStore(options.store)) shared = options.store;
      else if (options.store !== undefined) {
        const s = await createStore(options.store);
        closers.push(() => s.close());
        shared = s;
      }
    } else if (isStore(options.store)) {
      store = options.store;
    } else {
      const s = await createStore(options.store ?? DEFAULT_STORE);
      closers.push(() => s.close());
      store = s;
    }
    let bus: Bus | undefined;
    if (o.strategy !== 'server') {
      if (isBus(options.bus)) bus = options.bus;
      else {
        // An unreplicated memory manager without a Bus is alone: it gets a hub of its own.
        const b =
          options.bus === undefined && o.strategy === 'memory' && o.replication === 'off'
            ? new MemoryBus({ hub: {} })
            : await createBus(options.bus ?? 'memory:');
        closers.push(() => b.close());
        bus = b;
      }
    }
    let impl: RecordStrategy | TokenStrategy;
    let fleet: MemoryFleet | undefined;
    if (o.strategy === 'token') {
      const revocations = new Revocations(store, bus!, o.now, o.revocationSync, o.absolute);
      await revocations.start();
      closers.unshift(() => revocations.close());
      impl = TokenStrategy.create(o, store, metrics, revocations);
    } else {
      let records = store;
      let revocations: Revocations | undefined;
      if (o.strategy === 'memory') {
        revocations = new Revocations(shared ?? store, bus!, o.now, o.revocationSync, o.absolute, !shared);
        await revocations.start();
        closers.unshift(() => revocations!.close());
        fleet = await MemoryFleet.open(store as MemoryStore, bus!, revocations, {
          instanceId: o.instanceId,
          idle: o.idle,
          absolute: o.absolute,
          now: o.now,
        });
        closers.unshift(() => fleet!.close());
      }
      let near: NearCacheStore | undefined;
      if (o.replication !== 'off') {
        const replicated = await ReplicatedStore.open(store as MemoryStore, bus!, {
          mode: o.replication,
          instanceId: o.instanceId,
          timeout: o.replicationTimeout,
        });
        closers.unshift(() => replicated.close());
        // The manager's counters read through to the replication's own.
        Object.defineProperties(metrics, {
          replicationDegraded: { get: () => replicated.metrics.replicationDegraded, enumerable: true },
          replicasFetched: { get: () => replicated.metrics.replicasFetched, enumerable: true },
        });
        replicated.onCopy = (key, rec) => fleet!.adopt(key, rec);
        records = replicated;
      }
      if (o.strategy === 'hybrid') {
        const cache = await NearCacheStore.open(store, bus!, { size: o.cacheSize, now: o.now });
        closers.unshift(() => cache.close());
        Object.defineProperties(metrics, {
          nearCacheHits: { get: () => cache.hits, enumerable: true },
          nearCacheMisses: { get: () => cache.misses, enumerable: true },
        });
        records = near = cache;
      }
      impl = new RecordStrategy({ o, store: records, metrics, revocations, near });
    }
    return new Manager(o.strategy, store, metrics, impl, o.onStoreError, closers, fleet);
  } catch (err) {
    for (const close of closers) await close().catch(() => {});
    throw err;
  }
}

class Manager implements SessionManager {
  private closed = false;

  constructor(
    readonly strategy: SessionManager['strategy'],
    readonly store: Store,
    readonly metrics: SessionMetrics,
    private readonly impl: RecordStrategy | TokenStrategy,
    private readonly onStoreError: 'fail' | 'anonymous',
    private readonly closers: (() => Promise<void>)[],
    /** `memory`: list and revoke across every instance. */
    private readonly fleet?: MemoryFleet,
  ) {}

  async load(request: RequestContext): Promise<Session> {
    try {
      return await this.impl.load(request);
    } catch (err) {
      if (isStatelineError(err, 'SL_ERR_STORE_UNAVAILABLE') || isStatelineError(err, 'SL_ERR_CLOSED')) {
        this.metrics.storeErrors++;
        if (this.onStoreError === 'anonymous' && this.impl instanceof RecordStrategy)
          return this.impl.degraded(request);
      }
      throw err;
    }
  }

  list(userId: string) {
    return (this.fleet ?? this.impl).list(userId);
  }

  revoke(handle: string, options: { userId?: string } = {}) {
    return (this.fleet ?? this.impl).revoke(handle, options.userId);
  }

  revokeAll(userId: string) {
    return (this.fleet ?? this.impl).revokeAll(userId);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const close of this.closers) await close().catch(() => {});
  }
}
