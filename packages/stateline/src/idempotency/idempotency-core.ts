import { randomBytes } from 'node:crypto';
import { StatelineError, type ErrorCode } from '../errors.js';
import { problem, problemFor } from '../http/problem.js';
import { createStore } from '../store/index.js';
import type { Store, StoredRecord } from '../store/types.js';
import { defaultFingerprint, digest } from './fingerprint.js';
import { parseIdempotencyKey } from './key-parse.js';
import { resolveOptions, type ResolvedOptions } from './options.js';
import {
  decodeRecord,
  finishedRecord,
  recordBody,
  type IdempotencyRecord,
  type PendingRecord,
} from './record.js';
import { defaultScope } from './scope.js';
import type {
  BeginResult,
  CapturedResponse,
  Idempotency,
  IdempotencyAnswer,
  IdempotencyOptions,
  IdempotencyRequest,
  IdempotencyStats,
  IdempotencyTicket,
} from './types.js';

const PASS: BeginResult = { kind: 'pass' };
/** Seconds a client should wait before retrying a key that is in flight. */
const IN_FLIGHT_RETRY_AFTER = '1';
/** Reservation attempts when the record keeps expiring between `create` and `get`. */
const RESERVE_ATTEMPTS = 3;

function refuse(code: ErrorCode, detail: string, headers?: Record<string, string>): BeginResult {
  return { kind: 'answer', answer: problem(code, detail, headers), replayed: false };
}

/**
 * The framework-neutral Idempotency-Key core. Adapters hand it each request; it answers with a
 * problem or a replay, passes the request through, or reserves the key and hands back a ticket
 * whose `complete` saves the outcome.
 *
 * @example
 * ```ts
 * const idem = createIdempotency({ store: 'redis://127.0.0.1:6379', lockTimeout: '30s' });
 * const r = await idem.begin({ raw: req, method: 'POST', path: '/orders', url: '/orders',
 *   header: (n) => headers[n], body: () => bytes, address: '10.0.0.7' });
 * if (r.kind === 'answer') send(r.answer);
 * else if (r.kind === 'ticket') await r.ticket.complete(await runHandler());
 * else await runHandler();
 * ```
 */
export function createIdempotency<Req = unknown>(options: IdempotencyOptions<Req> = {}): Idempotency<Req> {
  const o = resolveOptions(options);
  const stores = storeHandle(o.store);
  const stats: IdempotencyStats = { replays: 0, inFlight: 0, mismatches: 0 };
  /** A refusal, counted when it is one the stats name. */
  const refused = (code: ErrorCode, detail: string, headers?: Record<string, string>): BeginResult => {
    if (code === 'SL_ERR_IDEMPOTENCY_IN_FLIGHT') stats.inFlight++;
    else if (code === 'SL_ERR_IDEMPOTENCY_MISMATCH') stats.mismatches++;
    return refuse(code, detail, headers);
  };

  async function decide(request: IdempotencyRequest<Req>): Promise<BeginResult> {
    const method = request.method.toUpperCase();
    if (!o.methods.has(method)) return PASS;
    const header = request.header('idempotency-key');
    if (header === undefined) {
      if (!o.required(request.raw)) return PASS;
      return refused(
        'SL_ERR_IDEMPOTENCY_KEY_MISSING',
        `${method} ${request.path} needs an Idempotency-Key header`,
      );
    }
    const parsed = parseIdempotencyKey(header);
    if (!parsed.ok) return refused('SL_ERR_IDEMPOTENCY_KEY_INVALID', `Idempotency-Key: ${parsed.reason}`);
    const scope = o.scope ? await o.scope(request.raw) : defaultScope(request.session, request.address);
    if (typeof scope !== 'string')
      throw new StatelineError('SL_ERR_INVALID_OPTION', 'idempotency: scope(req) must return a string');
    const fingerprint = o.fingerprint
      ? digest('custom', String(await o.fingerprint(request.raw)))
      : await defaultFingerprint(request);
    // Hashed: scope and key are client input and must not reach the Store unbounded.
    const key = `idem:${digest(scope, method, request.path, parsed.key)}`;
    return reserve(await stores.get(), key, fingerprint);
  }

  async function reserve(store: Store, key: string, fingerprint: string): Promise<BeginResult> {
    const token = randomBytes(16).toString('base64url');
    const pending: PendingRecord = { v: 1, state: 'pending', fingerprint, token };
    for (let attempt = 0; attempt < RESERVE_ATTEMPTS; attempt++) {
      const created = await store.create(key, JSON.stringify(pending), { ttl: o.lockTimeout });
      if (created.ok)
        return { kind: 'ticket', ticket: new Reservation(o, store, key, pending, created.version) };
      const existing = await store.get(key);
      if (existing) return answerFor(decodeRecord(existing.value), fingerprint);
    }
    return refused('SL_ERR_IDEMPOTENCY_IN_FLIGHT', 'the key keeps changing hands; retry', {
      'retry-after': IN_FLIGHT_RETRY_AFTER,
    });
  }

  function answerFor(record: IdempotencyRecord, fingerprint: string): BeginResult {
    if (record.fingerprint !== fingerprint) {
      return refused(
        'SL_ERR_IDEMPOTENCY_MISMATCH',
        'this Idempotency-Key was already used with a different fingerprint (body or query)',
      );
    }
    switch (record.state) {
      case 'pending':
        return refused(
          'SL_ERR_IDEMPOTENCY_IN_FLIGHT',
          'a request with this Idempotency-Key is still being processed',
          {
            'retry-after': IN_FLIGHT_RETRY_AFTER,
          },
        );
      case 'unstored':
        return { kind: 'answer', answer: notStored(record.status, record.headers), replayed: false };
      case 'done':
        stats.replays++;
        return {
          kind: 'answer',
          answer: {
            status: record.status,
            headers: { ...record.headers, 'idempotent-replayed': 'true' },
            body: recordBody(record),
          },
          replayed: true,
        };
    }
  }

  return {
    stats,
    async begin(request) {
      try {
        return await decide(request);
      } catch (err) {
        const answer = problemFor(err);
        if (answer.status >= 500) o.onError(err);
        return { kind: 'answer', answer, replayed: false };
      }
    },
    covers: (method) => o.methods.has(method.toUpperCase()),
    onError: (err) => o.onError(err),
    close: () => stores.close(),
  };
}

/** The refusal for a finished request whose response was too large to keep: it must not run again. */
function notStored(status: number, headers: Record<string, string>): IdempotencyAnswer {
  const p = problem(
    'SL_ERR_IDEMPOTENCY_RESPONSE_NOT_STORED',
    `the request with this Idempotency-Key already ran (status ${status}); its response was too large to keep for replay`,
  );
  return {
    ...p,
    body: JSON.stringify({
      ...(JSON.parse(p.body) as object),
      originalStatus: status,
      originalHeaders: headers,
    }),
  };
}

/** The Store itself, or one opened from a spec on first use and closed by `close()`. */
function storeHandle(spec: ResolvedOptions<unknown>['store']): {
  get(): Promise<Store>;
  close(): Promise<void>;
} {
  if ('create' in spec) return { get: () => Promise.resolve(spec), close: () => Promise.resolve() };
  let opening: Promise<Store> | undefined;
  let closed = false;
  return {
    get() {
      if (closed)
        return Promise.reject(new StatelineError('SL_ERR_CLOSED', 'the idempotency middleware was closed'));
      // A failed open is forgotten so the next request tries again.
      return (opening ??= createStore(spec).catch((err: unknown) => {
        opening = undefined;
        throw err;
      }));
    },
    async close() {
      closed = true;
      const store = await opening?.catch(() => undefined);
      await store?.close();
    },
  };
}

class Reservation implements IdempotencyTicket {
  private settled = false;
  readonly maxBodyBytes: number;

  constructor(
    private readonly o: ResolvedOptions<never>,
    private readonly store: Store,
    private readonly key: string,
    private readonly pending: PendingRecord,
    private readonly version: number,
  ) {
    this.maxBodyBytes = o.maxBodyBytes;
  }

  private readonly reservedAt = performance.now();

  /**
   * Within the first half of the lock window nobody else can have replaced the reservation (it can
   * only expire, or be abandoned by this very ticket), so the version `create` returned is still
   * ours and the save needs no read first: one round trip instead of two on the common path.
   */
  private get surelyOurs(): boolean {
    return performance.now() - this.reservedAt < this.o.lockTimeout / 2;
  }

  /** True while the stored record is still this reservation (not one made after our lock expired). */
  private ours(current: StoredRecord): boolean {
    const record = decodeRecord(current.value);
    return record.state === 'pending' && record.token === this.pending.token;
  }

  async complete(response: CapturedResponse): Promise<void> {
    if (this.settled) return;
    this.settled = true;
    try {
      const value = JSON.stringify(finishedRecord(this.pending.fingerprint, response, this.o.replayHeaders));
      if (this.surelyOurs) {
        const fast = await this.store.update(this.key, value, { ifVersion: this.version, ttl: this.o.ttl });
        if (fast.ok) return;
      }
      const current = await this.store.get(this.key);
      if (current && this.ours(current)) {
        const updated = await this.store.update(this.key, value, {
          ifVersion: current.version,
          ttl: this.o.ttl,
        });
        if (updated.ok || updated.reason === 'conflict') {
          if (!updated.ok) this.lost();
          return;
        }
      } else if (current) {
        return this.lost();
      }
      // The lock expired and nobody retried yet: keep the outcome all the same.
      if (!(await this.store.create(this.key, value, { ttl: this.o.ttl })).ok) this.lost();
    } catch (err) {
      this.o.onError(err);
    }
  }

  private lost(): void {
    this.o.onError(
      new StatelineError(
        'SL_ERR_IDEMPOTENCY_LOCK_EXPIRED',
        `the handler outlived lockTimeout (${this.o.lockTimeout} ms) and a retry took over the key; this outcome was not saved`,
      ),
    );
  }

  async abandon(): Promise<void> {
    if (this.settled) return;
    this.settled = true;
    try {
      const current = await this.store.get(this.key);
      if (current && this.ours(current)) await this.store.delete(this.key);
    } catch (err) {
      this.o.onError(err);
    }
  }
}
