import type { Bus } from '../bus/types.js';
import { isStatelineError } from '../errors.js';
import type { Store } from '../store/types.js';
import { HOST, type SessionFamilies, type SessionHost } from './host.js';
import { Migration } from './migration.js';
import { resolveOptions, type ResolvedOptions } from './options.js';
import { Resources } from './resources.js';
import { Revocations } from './revocations.js';
import { STRATEGIES } from './strategies/index.js';
import type { SessionStrategy } from './strategy.js';
import type {
  RequestContext,
  Session,
  SessionManager,
  SessionMetrics,
  SessionOptions,
  SessionStrategyName,
} from './types.js';

/** Every counter of {@link SessionMetrics} at zero: a manager's, or a reader's that nobody shows. */
export function zeroMetrics(): SessionMetrics {
  return {
    created: 0,
    renewed: 0,
    revoked: 0,
    invalidCookies: 0,
    expired: 0,
    missing: 0,
    storeErrors: 0,
    conflictsResolved: 0,
    revokedRefused: 0,
    replicationDegraded: 0,
    replicationRerouted: 0,
    replicaFetchFailures: 0,
    replicasFetched: 0,
    nearCacheHits: 0,
    nearCacheMisses: 0,
    migrated: 0,
    migrationRefused: 0,
    migrationRetireFailures: 0,
  };
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
  const metrics = zeroMetrics();
  const resources = new Resources(options.logger);
  try {
    const impl = await STRATEGIES[o.strategy]({
      o,
      store: options.store,
      bus: options.bus,
      metrics,
      resources,
    });
    const manager: Manager = new Manager(o.strategy, impl, metrics, o.onStoreError, resources);
    manager[HOST] = new Host(impl, o, options.bus, resources, manager.families);
    if (o.migrate.length > 0) {
      const migration = new Migration(o.migrate, o, metrics, (err, request) =>
        manager.legacyOutage(err, request),
      );
      // Readers close with the manager, first (they were given last).
      manager.migration = resources.own(migration);
    }
    return manager;
  } catch (err) {
    await resources.close();
    throw err;
  }
}

/** The public face of one strategy: the store-outage policy, migration and the lifecycle. */
class Manager implements SessionManager {
  /** The `migrate` readers; null when none are configured. */
  migration: Migration | null = null;
  /** Sessions kept beside the strategy's (token families), listed and revoked with its own. */
  readonly families = new Set<SessionFamilies>();
  [HOST]!: SessionHost;

  constructor(
    readonly strategy: SessionStrategyName,
    private readonly impl: SessionStrategy,
    readonly metrics: SessionMetrics,
    private readonly onStoreError: 'fail' | 'anonymous',
    private readonly resources: Resources,
  ) {}

  get store(): Store {
    return this.impl.store;
  }

  async load(request: RequestContext): Promise<Session> {
    let s: Session;
    try {
      s = await this.impl.load(request);
    } catch (err) {
      if (isStatelineError(err, 'SL_ERR_STORE_UNAVAILABLE') || isStatelineError(err, 'SL_ERR_CLOSED')) {
        this.metrics.storeErrors++;
        if (this.onStoreError === 'anonymous' && this.impl.degraded) return this.impl.degraded(request);
      }
      throw err;
    }
    // A valid native cookie pays this one check for configured migrations.
    if (this.migration !== null && s.isNew && !s.degraded) return this.migration.adopt(s, request);
    return s;
  }

  /**
   * A legacy store (or ours, while a migrated session logged in) could not be reached: under
   * `anonymous` the request gets an empty session that keeps the legacy cookie for a later try.
   */
  async legacyOutage(err: unknown, request: RequestContext): Promise<Session> {
    if (isStatelineError(err, 'SL_ERR_STORE_UNAVAILABLE') || isStatelineError(err, 'SL_ERR_CLOSED')) {
      this.metrics.storeErrors++;
      if (this.onStoreError === 'anonymous')
        return this.impl.degraded ? this.impl.degraded(request) : this.impl.load(request);
    }
    throw err;
  }

  async list(userId: string) {
    const lists = await Promise.all([
      this.impl.list(userId),
      ...[...this.families].map((f) => f.list(userId)),
    ]);
    return lists.flat().sort((a, b) => b.lastSeenAt - a.lastSeenAt);
  }

  async revoke(handle: string, options: { userId?: string } = {}): Promise<boolean> {
    // Families first: one Store read each, where `memory` may wait for its peers.
    let live = false;
    for (const f of this.families) if ((live = await f.revoke(handle, options.userId))) break;
    if (!live) live = await this.impl.revoke(handle, options.userId);
    if (live) this.metrics.revoked++;
    return live;
  }

  async revokeAll(userId: string): Promise<number> {
    const counts = await Promise.all([
      this.impl.revokeAll(userId),
      ...[...this.families].map((f) => f.revokeAll(userId)),
    ]);
    const n = counts.reduce((a, b) => a + b, 0);
    this.metrics.revoked += n;
    return n;
  }

  close(): Promise<void> {
    return this.resources.close();
  }
}

/** What the manager lends to `stateline/tokens`: its Store, Bus and revocations, and its session list. */
class Host implements SessionHost {
  private shared: Promise<Revocations> | undefined;
  private opened: Promise<Bus> | undefined;

  constructor(
    private readonly impl: SessionStrategy,
    private readonly o: ResolvedOptions,
    private readonly busOption: SessionOptions['bus'],
    private readonly resources: Resources,
    private readonly families: Set<SessionFamilies>,
  ) {}

  get store(): Store {
    return this.impl.store;
  }

  get now(): () => number {
    return this.o.now;
  }

  get revocationSync(): number {
    return this.o.revocationSync;
  }

  bus(beside: Store): Promise<Bus> {
    this.opened ??= this.resources.busBeside(beside, this.busOption, 'bearer tokens (revocation)');
    return this.opened;
  }

  revocations(): Promise<Revocations> {
    if (this.impl.revocations) return Promise.resolve(this.impl.revocations);
    this.shared ??= (async () => {
      const r = new Revocations(
        this.store,
        await this.bus(this.store),
        this.o.now,
        this.o.revocationSync,
        this.o.absolute,
      );
      await r.start();
      return this.resources.own(r);
    })();
    this.shared.catch(() => (this.shared = undefined));
    return this.shared;
  }

  attach(families: SessionFamilies): () => void {
    this.families.add(families);
    return () => void this.families.delete(families);
  }
}
