import type { Store } from '../store/types.js';
import type { ResolvedOptions } from './options.js';
import type { SessionRecord } from './record.js';
import type { Resources } from './resources.js';
import type { Revocations } from './revocations.js';
import type { RequestContext, Session, SessionInfo, SessionMetrics, SessionOptions } from './types.js';

/**
 * The seam between the manager and where sessions live. A manager holds one, built by the factory
 * its `strategy` option names (session/strategies/): `server` and `hybrid` are a RecordStrategy on
 * the Store (hybrid through a near cache), `memory` a RecordStrategy on this process's memory
 * (through replication when on) with the MemoryFleet answering for a user's sessions, `token` a
 * TokenStrategy. A new strategy implements this and adds its factory there.
 */
export interface SessionStrategy {
  /** The Store the manager shows as `sessions.store` (the one behind any cache or replication). */
  readonly store: Store;
  /** The request's session: the one its cookie names when that is valid and live, else a new one. */
  load(request: RequestContext): Promise<Session>;
  /**
   * An empty session that is never saved, for a request whose Store could not be reached under
   * `onStoreError: 'anonymous'`. Absent where loading reads no Store: the error then stands.
   */
  degraded?(request: RequestContext): Session;
  /**
   * The strategy's revocations (`token`, `memory`), shared with the token families of
   * `stateline/tokens`; absent where the strategy revokes by deleting records.
   */
  readonly revocations?: Revocations;
  /** The live sessions of a user. */
  list(userId: string): Promise<SessionInfo[]>;
  /** Ends one session by its handle (with `userId`, only that user's); true when it was live. */
  revoke(handle: string, userId?: string): Promise<boolean>;
  /** Ends every session of a user; how many were live. */
  revokeAll(userId: string): Promise<number>;
  /**
   * The live record the request's cookie names, without making a session: what a migration
   * reader (`fromStateline`) takes over from a previous configuration. null when there is none.
   */
  open?(request: RequestContext): Promise<SessionRecord | null>;
}

/** What a strategy's factory is given. */
export interface StrategyContext {
  o: ResolvedOptions;
  /** The `store` option as the caller gave it (a spec, a Store, or nothing). */
  store: SessionOptions['store'];
  /** The `bus` option as the caller gave it (a spec, a Bus, or nothing). */
  bus: SessionOptions['bus'];
  /** The manager's counters; a strategy may make some of them read through to its own. */
  metrics: SessionMetrics;
  /** Opens the Stores and Buses a strategy needs and closes them with the manager. */
  resources: Resources;
  /**
   * Opened to read a previous configuration's cookies (`fromStateline`), not to serve sessions:
   * `memory` without replication then asks its peers for a record it does not hold.
   */
  reader?: boolean;
}

/** Builds one strategy: its Store, Bus, revocations, fleet, replication or near cache. */
export type StrategyFactory = (context: StrategyContext) => Promise<SessionStrategy>;

/** Makes counters of the manager read through to a decorator's own. */
export function readThrough(
  metrics: SessionMetrics,
  counters: Partial<Record<keyof SessionMetrics, () => number>>,
): void {
  for (const [name, get] of Object.entries(counters))
    Object.defineProperty(metrics, name, { get, enumerable: true });
}
