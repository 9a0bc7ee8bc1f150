import type { Bus } from '../bus/types.js';
import type { Log } from '../log/types.js';
import type { Store } from '../store/types.js';

/** What a handler gets besides state and args. */
export interface EntityContext {
  /** The entity's type and key. */
  readonly type: string;
  readonly key: string;
  /**
   * An app-level refusal to throw: `throw ctx.reject('SOLD_OUT', 'sold out')`. Nothing the handler
   * changed is kept, nothing is appended, and the caller gets `SL_ERR_ENTITY_REJECTED` (409) with
   * `reason` set to the app's code. Never retried.
   */
  reject(reason: string, detail?: string): Error;
  /** Sends an event to the entity's subscribers once the call is durable (not on replay). */
  emit(event: unknown): void;
}

/**
 * A handler that may change `state` (in place, or by returning nothing and mutating). It runs alone
 * for its key and must be synchronous and deterministic given `state` and `args` (it runs again
 * when a new owner replays the Log): take times and random values as arguments.
 */
export type WriteHandler<S, A = never, R = unknown> = (state: S, args: A, ctx: EntityContext) => R;

/** A read-only handler: no Log append; it must not change `state`. */
export interface ReadHandler<S, A = never, R = unknown> {
  read: true;
  run: (state: S, args: A, ctx: EntityContext) => R;
}

// `any` in the args position keeps handler parameter types checkable at the definition site.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Handler<S> = WriteHandler<S, any, unknown> | ReadHandler<S, any, unknown>;

export interface EntityOptions<S> {
  /** The state of a key that was never written. Must return a JSON-serialisable value. */
  initial: () => S;
  handlers: Record<string, Handler<S>>;
  /** Write a snapshot to the Store after this many appended calls (default 100). */
  snapshotEvery?: number;
}

/** What `defineEntity` returns. */
export interface EntityDefinition<S = unknown> {
  readonly type: string;
  readonly initial: () => S;
  readonly handlers: Readonly<Record<string, Handler<S>>>;
  readonly snapshotEvery: number;
}

/** An entity definition of any state type (what `createEntities` takes a list of). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyEntityDefinition = EntityDefinition<any>;

/** How calls reach the owner of a key when it is another instance. */
export interface ForwardOptions {
  /**
   * This instance's entity routes as other instances reach them, e.g.
   * `http://10.0.0.5:3000/entities` (the route helper's prefix included). Kept in the lease.
   */
  url: string;
  /** Shared by every instance; sent in `x-stateline-entity-forward`, checked by the route helper. */
  secret: string;
  /** The fetch used to forward (default: the global one). */
  fetch?: typeof globalThis.fetch;
}

export interface EntitiesOptions {
  store: Store;
  log: Log;
  /** Carries emitted events to subscribers on every instance (optional: without it, no subscribe). */
  bus?: Bus;
  /** This instance's id, unique in the fleet (e.g. its hostname and pid). */
  instanceId: string;
  entities: AnyEntityDefinition[];
  /** A lease lasts this long unless renewed; a dead owner's keys move after it (default `'3s'`). */
  leaseTtl?: number | string;
  /** Calls waiting per key before `SL_ERR_ENTITY_BUSY` (default 1000). */
  mailboxLimit?: number;
  /** Longest a call may take, queueing and forwarding included (default `'5s'`). */
  callTimeout?: number | string;
  /** A key with no call for this long is snapshotted and its lease released (default `'30s'`). */
  idleAfter?: number | string;
  /** Idempotency keys remembered per entity, carried in snapshots (default 10,000). */
  dedupWindow?: number;
  forward?: ForwardOptions;
  /** Errors of background work (renewals, snapshots); default: ignored. */
  onError?: (err: unknown) => void;
}

export interface CallOptions {
  /** A retried call with the same key is applied once and answers the first answer. 1–200 chars. */
  idempotencyKey?: string;
  /**
   * Serve only here: take the key's lease if it is free, never forward (what the route helper
   * sets for a call another instance forwarded, so a call is forwarded at most once).
   */
  noForward?: boolean;
}

/** The stored lease of a key. */
export interface LeaseRecord {
  owner: string;
  epoch: number;
  /** Epoch ms, by the owner's clock. */
  expiresAt: number;
  /** The owner's forward URL, when it has one. */
  url: string | null;
}
