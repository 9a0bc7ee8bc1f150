import { isStatelineError } from '../errors.js';
import type { Store } from '../store/types.js';
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
  const metrics: SessionMetrics = {
    created: 0,
    renewed: 0,
    revoked: 0,
    ended: 0,
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
  const resources = new Resources(options.logger);
  try {
    const impl = await STRATEGIES[o.strategy]({
      o,
      store: options.store,
      bus: options.bus,
      metrics,
      resources,
    });
    return new Manager(o.strategy, impl, metrics, o.onStoreError, resources);
  } catch (err) {
    await resources.close();
    throw err;
  }
}

/** The public face of one strategy: the store-outage policy and the lifecycle. */
class Manager implements SessionManager {
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
    try {
      return await this.impl.load(request);
    } catch (err) {
      if (isStatelineError(err, 'SL_ERR_STORE_UNAVAILABLE') || isStatelineError(err, 'SL_ERR_CLOSED')) {
        this.metrics.storeErrors++;
        if (this.onStoreError === 'anonymous' && this.impl.degraded) return this.impl.degraded(request);
      }
      throw err;
    }
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
