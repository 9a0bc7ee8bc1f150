import { isStatelineError } from '../errors.js';
import type { Store } from '../store/types.js';
import { Migration } from './migration.js';
import { resolveOptions } from './options.js';
import { Resources } from './resources.js';
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

  list(userId: string) {
    return this.impl.list(userId);
  }

  async revoke(handle: string, options: { userId?: string } = {}): Promise<boolean> {
    const live = await this.impl.revoke(handle, options.userId);
    if (live) this.metrics.revoked++;
    return live;
  }

  async revokeAll(userId: string): Promise<number> {
    const n = await this.impl.revokeAll(userId);
    this.metrics.revoked += n;
    return n;
  }

  close(): Promise<void> {
    return this.resources.close();
  }
}
