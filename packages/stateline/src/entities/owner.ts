/**
 * One key this instance owns: its state in memory, its mailbox, and the path of a call from the
 * mailbox to the Log. Calls are taken from the mailbox in batches (group commit): each handler
 * runs alone on a copy of the state, the batch's changes go to the Log in one fenced append, and
 * only then is any caller answered or any event emitted. A refused or failed append drops the
 * owner, so memory never holds a change the Log does not.
 */
import type { Bus } from '../bus/types.js';
import { StatelineError, isStatelineError } from '../errors.js';
import type { Log } from '../log/types.js';
import type { Store } from '../store/types.js';
import { EntityBusyError, EntityRejectedError, NotOwnerError } from './errors.js';
import type { Leases } from './lease.js';
import { readSnapshot, writeSnapshot, type Snapshot } from './snapshot.js';
import type { EntityContext, EntityDefinition } from './types.js';

/** Most calls in one batch (one Log append). */
const BATCH = 64;
const READ_PAGE = 1000;

/** One applied call as the Log holds it: method, args, idempotency key, result. */
interface Applied {
  m: string;
  a: unknown;
  k?: string;
  r: unknown;
}

export interface Job {
  method: string;
  args: unknown;
  idempotencyKey: string | undefined;
  deadline: number;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

export interface OwnerDeps {
  store: Store;
  log: Log;
  bus: Bus | undefined;
  leases: Leases;
  mailboxLimit: number;
  dedupWindow: number;
  onError: (err: unknown) => void;
  /** Called once when the owner stops owning (lost, fenced or retired). */
  onGone: (owner: EntityOwner) => void;
}

/** Stream, snapshot, lease and event-channel names of one key. */
export function entityNames(type: string, key: string) {
  const id = `${type}:${key}`;
  return {
    id,
    stream: `entity:${id}`,
    snapshot: `entity-snap:${id}`,
    lease: `entity-lease:${id}`,
    channel: `entity:${id}`,
  };
}

class Rejection extends Error {
  constructor(
    readonly reason: string,
    readonly detail?: string,
  ) {
    super(reason);
  }
}

export class EntityOwner {
  readonly names: ReturnType<typeof entityNames>;
  private state: unknown;
  private readonly recent = new Map<string, unknown>();
  private offset = 0;
  private logEpoch: string | undefined;
  private sinceSnapshot = 0;
  private snapshotting = false;
  private readonly queue: Job[] = [];
  private running = false;
  private gone = false;
  lastUsed = Date.now();

  constructor(
    readonly def: EntityDefinition,
    readonly key: string,
    readonly epoch: number,
    private version: number,
    private expiresAt: number,
    private readonly deps: OwnerDeps,
  ) {
    this.names = entityNames(def.type, key);
    this.state = def.initial();
  }

  get alive(): boolean {
    return !this.gone;
  }

  /** Fences the stream at this owner's epoch, then rebuilds the state from snapshot + Log. */
  async load(): Promise<void> {
    const { log, store } = this.deps;
    await log.fence(this.names.stream, this.epoch);
    const snap = await readSnapshot(store, this.names.snapshot);
    if (snap) {
      this.state = snap.state;
      for (const [k, r] of snap.recent) this.recent.set(k, r);
      this.offset = snap.offset;
      this.logEpoch = snap.logEpoch;
    }
    for (;;) {
      const page = await log.read(this.names.stream, this.offset, { epoch: this.logEpoch, limit: READ_PAGE });
      // Another Log epoch: the history after the snapshot was lost; what the new epoch holds follows it.
      if (page.epoch !== this.logEpoch) this.offset = 0;
      this.logEpoch = page.epoch;
      for (const e of page.entries) {
        for (const applied of (JSON.parse(e.data) as { e: Applied[] }).e) this.replay(applied);
        this.offset = e.offset;
      }
      if (page.entries.length === 0 || this.offset >= page.head) break;
    }
  }

  private replay(applied: Applied): void {
    const h = this.def.handlers[applied.m];
    if (h && typeof h === 'function')
      h(
        this.state as never,
        applied.a as never,
        this.context(() => {}),
      );
    if (applied.k !== undefined) this.remember(applied.k, applied.r);
  }

  private remember(k: string, r: unknown): void {
    this.recent.delete(k);
    this.recent.set(k, r);
    if (this.recent.size > this.deps.dedupWindow) this.recent.delete(this.recent.keys().next().value!);
  }

  private context(emit: (event: unknown) => void): EntityContext {
    return {
      type: this.def.type,
      key: this.key,
      reject: (reason, detail) => new Rejection(reason, detail),
      emit,
    };
  }

  /** Queues a call; settles once it is durable (or refused). */
  enqueue(job: Job): void {
    if (this.gone) throw new NotOwnerError(this.names.id);
    if (this.queue.length >= this.deps.mailboxLimit)
      throw new EntityBusyError(1, `${this.queue.length} calls are waiting for ${this.names.id}`);
    this.lastUsed = Date.now();
    this.queue.push(job);
    if (!this.running) void this.pump();
  }

  get idle(): boolean {
    return !this.running && this.queue.length === 0;
  }

  private async pump(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0 && !this.gone) await this.runBatch(this.queue.splice(0, BATCH));
    } finally {
      this.running = false;
    }
  }

  private async runBatch(batch: Job[]): Promise<void> {
    let draft = this.state;
    const applied: Applied[] = [];
    const emitted: unknown[] = [];
    const settle: (() => void)[] = [];
    const keysInBatch = new Map<string, unknown>();
    const now = Date.now();
    for (const job of batch) {
      if (job.deadline <= now) continue; // its caller already got SL_ERR_ENTITY_TIMEOUT
      const k = job.idempotencyKey;
      if (k !== undefined && (this.recent.has(k) || keysInBatch.has(k))) {
        const r = keysInBatch.has(k) ? keysInBatch.get(k) : this.recent.get(k);
        settle.push(() => job.resolve(r));
        continue;
      }
      const h = this.def.handlers[job.method]!;
      try {
        if (typeof h !== 'function') {
          const r = h.run(
            draft as never,
            job.args as never,
            this.context(() => {}),
          );
          settle.push(() => job.resolve(r));
          continue;
        }
        const copy = structuredClone(draft);
        const events: unknown[] = [];
        const r = h(
          copy as never,
          job.args as never,
          this.context((e) => events.push(e)),
        );
        // The result is stored in the Log as JSON: what the caller gets is what a retry replays.
        const result = r === undefined ? null : (JSON.parse(JSON.stringify(r)) as unknown);
        draft = copy;
        applied.push(
          k === undefined
            ? { m: job.method, a: job.args, r: result }
            : { m: job.method, a: job.args, k, r: result },
        );
        if (k !== undefined) keysInBatch.set(k, result);
        emitted.push(...events);
        settle.push(() => job.resolve(result));
      } catch (err) {
        const e =
          err instanceof Rejection
            ? new EntityRejectedError(err.reason, err.detail)
            : new StatelineError('SL_ERR_INTERNAL', `${this.names.id}.${job.method} threw`, { cause: err });
        settle.push(() => job.reject(e));
      }
    }
    if (applied.length > 0) {
      try {
        const single = applied.length === 1 ? applied[0]!.k : undefined;
        const res = await this.deps.log.append(this.names.stream, JSON.stringify({ e: applied }), {
          fence: this.epoch,
          ...(single === undefined ? {} : { key: `call:${single}` }),
        });
        if (res.duplicate)
          throw new StatelineError(
            'SL_ERR_ENTITY_UNAVAILABLE',
            `${this.names.id}: the Log already held this call`,
          );
        if (this.logEpoch !== undefined && res.epoch !== this.logEpoch)
          throw new StatelineError('SL_ERR_ENTITY_UNAVAILABLE', `${this.names.id}: the Log lost its history`);
        this.offset = res.offset;
        this.logEpoch = res.epoch;
      } catch (err) {
        const e = isStatelineError(err, 'SL_ERR_LOG_FENCED')
          ? new StatelineError('SL_ERR_ENTITY_FENCED', `${this.names.id} (epoch ${this.epoch})`, {
              cause: err,
            })
          : isStatelineError(err, 'SL_ERR_ENTITY_UNAVAILABLE')
            ? err
            : new StatelineError(
                'SL_ERR_ENTITY_UNAVAILABLE',
                `${this.names.id}: the call may or may not have been saved`,
                { cause: err },
              );
        // Memory may now differ from the Log (fenced, or an append of unknown outcome): stop owning.
        this.drop();
        for (const job of batch) job.reject(e);
        return;
      }
      this.state = draft;
      for (const a of applied) if (a.k !== undefined) this.remember(a.k, a.r);
      this.sinceSnapshot += applied.length;
    }
    for (const s of settle) s();
    this.publish(emitted);
    if (this.sinceSnapshot >= this.def.snapshotEvery) void this.snapshot();
  }

  private publish(events: unknown[]): void {
    const bus = this.deps.bus;
    if (!bus) return;
    for (const e of events) bus.publish(this.names.channel, JSON.stringify(e)).catch(this.deps.onError);
  }

  /** Writes a snapshot of the committed state (never a draft); at most one at a time. */
  async snapshot(): Promise<void> {
    if (this.snapshotting || this.logEpoch === undefined || this.sinceSnapshot === 0) return;
    this.snapshotting = true;
    const count = this.sinceSnapshot;
    const snap: Snapshot = {
      state: JSON.parse(JSON.stringify(this.state)) as unknown,
      recent: [...this.recent],
      offset: this.offset,
      logEpoch: this.logEpoch,
      fence: this.epoch,
    };
    try {
      if (await writeSnapshot(this.deps.store, this.names.snapshot, snap))
        // Behind the snapshot the Log is no longer needed; fenced, so a former owner cannot trim.
        await this.deps.log.trim(this.names.stream, snap.offset, { fence: this.epoch });
      this.sinceSnapshot -= count;
    } catch (err) {
      this.deps.onError(err);
    } finally {
      this.snapshotting = false;
    }
  }

  /** Extends the lease; drops the key when the term was lost or ran out. */
  async renew(): Promise<void> {
    if (this.gone) return;
    try {
      const r = await this.deps.leases.renew(this.names.lease, this.epoch, this.version);
      if (r === null) return this.drop();
      this.version = r.version;
      this.expiresAt = r.expiresAt;
    } catch (err) {
      this.deps.onError(err);
      if (Date.now() >= this.expiresAt) this.drop();
    }
  }

  /** Snapshots, then gives the key up so another instance may take it at once. */
  async retire(): Promise<void> {
    if (this.gone) return;
    this.drop();
    await this.snapshot();
    await this.deps.leases.release(this.names.lease, this.epoch, this.version);
  }

  /** Stops owning: later and queued calls are rerouted (they were not applied). */
  drop(): void {
    if (this.gone) return;
    this.gone = true;
    for (const job of this.queue.splice(0)) job.reject(new NotOwnerError(this.names.id));
    this.deps.onGone(this);
  }
}
