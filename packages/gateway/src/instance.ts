import { Pool } from 'undici';
import { StatelineError } from 'stateline/errors';
import type { InstanceCounts, InstanceInfo, InstanceState } from './types.js';

const ID = /^[A-Za-z0-9._-]{1,64}$/;

/** Connection settings shared by every instance's pool. */
export interface PoolSettings {
  connectTimeout: number;
  responseTimeout: number;
}

/** One backend: its keep-alive pool, routing state and counters. */
export class Instance {
  readonly id: string;
  readonly url: string;
  readonly hostname: string;
  readonly port: number;
  /** The Host-free part of the URL, as undici and upgrade connections need it. */
  readonly origin: string;
  readonly pool: Pool;
  state: InstanceState;
  inflight = 0;
  /** Shared with every instance added under this id (see {@link InstanceCounts}). */
  readonly counts: InstanceCounts;
  websockets = 0;
  /** Consecutive failures (active and passive) and consecutive passing health checks. */
  failures = 0;
  passes = 0;
  /** Set once removed or replaced: late health results and exchanges must not touch routing. */
  removed = false;
  private drainWaiters: (() => void)[] = [];

  constructor(
    id: string,
    url: string,
    state: InstanceState,
    settings: PoolSettings,
    counts: InstanceCounts = { served: 0, errors: 0, retries: 0 },
  ) {
    if (typeof id !== 'string' || !ID.test(id)) {
      throw new StatelineError(
        'SL_ERR_INVALID_ARGUMENT',
        `gateway: instance id must be 1-64 of A-Z a-z 0-9 . _ - (got ${JSON.stringify(id)})`,
      );
    }
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new StatelineError(
        'SL_ERR_INVALID_ARGUMENT',
        `gateway: instance url is not a URL (got ${JSON.stringify(url)})`,
      );
    }
    if (parsed.protocol !== 'http:' || (parsed.pathname !== '/' && parsed.pathname !== '') || parsed.search) {
      throw new StatelineError(
        'SL_ERR_INVALID_ARGUMENT',
        `gateway: instance url must be http://host:port (got ${JSON.stringify(url)})`,
      );
    }
    this.id = id;
    this.url = url;
    this.origin = parsed.origin;
    this.hostname = parsed.hostname.replace(/^\[|\]$/g, '');
    this.port = parsed.port ? Number(parsed.port) : 80;
    this.state = state;
    this.counts = counts;
    this.pool = new Pool(this.origin, {
      pipelining: 1,
      connect: { timeout: settings.connectTimeout },
      headersTimeout: settings.responseTimeout,
      bodyTimeout: settings.responseTimeout,
      keepAliveTimeout: 4000,
    });
  }

  /** Called when an attempt on this instance ends; wakes `drain()` callers once nothing is in flight. */
  release(): void {
    this.inflight--;
    if (this.inflight === 0 && this.drainWaiters.length > 0) this.wake();
  }

  /** Resolves once nothing is in flight. */
  idle(): Promise<void> {
    if (this.inflight === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private wake(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }

  info(): InstanceInfo {
    return {
      id: this.id,
      url: this.url,
      state: this.state,
      inflight: this.inflight,
      ...this.counts,
      websockets: this.websockets,
    };
  }

  /** Lets requests already sent finish, then closes the connections (bounded by `graceMs`). */
  async dispose(graceMs: number): Promise<void> {
    const timer = setTimeout(() => void this.pool.destroy().catch(() => {}), graceMs);
    timer.unref();
    try {
      await this.pool.close();
    } catch {
      // Already destroyed by the timer: nothing left to close.
    } finally {
      clearTimeout(timer);
    }
  }
}
