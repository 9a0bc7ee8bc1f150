/**
 * The idempotency core's conformance suite: every Store backend runs exactly these tests.
 * `make(prefix)` opens a new Store (a new connection where the backend has connections), so
 * several "instances" can race through separate connections.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { StatelineError, isStatelineError } from '../../src/errors.js';
import { createIdempotency } from '../../src/idempotency/index.js';
import type {
  BeginResult,
  IdempotencyAnswer,
  IdempotencyOptions,
  IdempotencyRequest,
  IdempotencyTicket,
} from '../../src/idempotency/index.js';
import type { Store } from '../../src/store/index.js';
import { sleep } from '../support/free-port.js';
import { uniquePrefix } from '../support/services.js';

export interface IdempotencyCase {
  /** Shown in every test name, e.g. `redis`. */
  backend: string;
  make: (prefix: string) => Promise<Store>;
  /** The backend keeps state per object (memory): instances share one object instead of connections. */
  perObjectState?: string;
  /** Skip the whole suite, with the reason printed (a missing service). */
  skip?: string | false;
}

/** What the option callbacks receive in these tests. */
export interface FakeRaw {
  path: string;
  user?: string;
}

export interface FakeRequest {
  method?: string;
  path?: string;
  query?: string;
  key?: string;
  body?: unknown;
  user?: string | null;
  handle?: string;
  address?: string;
}

let bodyReads = 0;

/** A neutral request as an adapter would build it. */
export function fakeRequest(r: FakeRequest = {}): IdempotencyRequest<FakeRaw> {
  const path = r.path ?? '/orders';
  const headers: Record<string, string> = {};
  if (r.key !== undefined) headers['idempotency-key'] = r.key;
  return {
    raw: { path, ...(r.user ? { user: r.user } : {}) },
    method: r.method ?? 'POST',
    path,
    url: path + (r.query ?? ''),
    header: (name) => headers[name],
    body: () => {
      bodyReads++;
      return r.body ?? { sku: 'apple', qty: 1 };
    },
    session:
      r.user !== undefined || r.handle
        ? { userId: r.user ?? null, handle: r.handle ?? 'handle-1' }
        : undefined,
    address: r.address ?? '10.0.0.1',
  };
}

export function answerOf(r: BeginResult): IdempotencyAnswer {
  assert.equal(r.kind, 'answer', `expected an answer, got ${r.kind}`);
  return (r as Extract<BeginResult, { kind: 'answer' }>).answer;
}

export function ticketOf(r: BeginResult): IdempotencyTicket {
  assert.equal(
    r.kind,
    'ticket',
    `expected a ticket, got ${r.kind === 'answer' ? `answer ${r.answer.status} ${String(r.answer.body)}` : r.kind}`,
  );
  return (r as Extract<BeginResult, { kind: 'ticket' }>).ticket;
}

/** Asserts a problem+json answer with the code and status; returns the parsed document. */
export function assertProblem(
  answer: IdempotencyAnswer,
  status: number,
  code: string,
): Record<string, unknown> {
  assert.equal(answer.status, status, `status of ${String(answer.body)}`);
  assert.equal(answer.headers['content-type'], 'application/problem+json');
  const doc = JSON.parse(Buffer.from(answer.body).toString('utf8')) as Record<string, unknown>;
  assert.equal(doc.code, code);
  assert.equal(doc.status, status);
  return doc;
}

const created = (n: number) => ({
  status: 201,
  headers: {
    'content-type': 'application/json; charset=utf-8',
    location: `/orders/${n}`,
    'set-cookie': ['sid=secret'],
    'x-trace': 'abc',
  },
  body: Buffer.from(JSON.stringify({ order: n, note: 'grüße' })),
});

/** A Store that forwards to another, records the keys it saw and fails the calls it is told to. */
export class ProbeStore implements Store {
  readonly keys: string[] = [];
  failing = new Set<string>();
  /** Milliseconds every update waits before it reaches the inner store: a slow network. */
  updateDelay = 0;
  constructor(private readonly inner: Store) {}
  get backend() {
    return this.inner.backend;
  }
  private check(op: string, key: string): void {
    this.keys.push(key);
    if (this.failing.has(op)) throw new StatelineError('SL_ERR_STORE_UNAVAILABLE', `probe: ${op} is failing`);
  }
  get: Store['get'] = async (key) => (this.check('get', key), this.inner.get(key));
  create: Store['create'] = async (key, value, o) => (
    this.check('create', key),
    this.inner.create(key, value, o)
  );
  update: Store['update'] = async (key, value, o) => {
    this.check('update', key);
    if (this.updateDelay > 0) await sleep(this.updateDelay);
    return this.inner.update(key, value, o);
  };
  delete: Store['delete'] = async (key) => (this.check('delete', key), this.inner.delete(key));
  touch: Store['touch'] = (key, ttl) => this.inner.touch(key, ttl);
  indexAdd: Store['indexAdd'] = (o, m, e) => this.inner.indexAdd(o, m, e);
  indexMembers: Store['indexMembers'] = (o) => this.inner.indexMembers(o);
  indexRemove: Store['indexRemove'] = (o, m) => this.inner.indexRemove(o, m);
  close: Store['close'] = () => this.inner.close();
}

export function runIdempotencyConformance(c: IdempotencyCase): void {
  describe(`Idempotency conformance [${c.backend}]`, { skip: c.skip || undefined }, () => {
    const prefix = uniquePrefix(`idem-${c.backend}`);
    const opened: Store[] = [];
    let store: Store;
    let keyNo = 0;
    const freshKey = () => `key-${c.backend}-${++keyNo}-${Math.random().toString(36).slice(2)}`;
    const open = async () => {
      const s = await c.make(prefix);
      opened.push(s);
      return s;
    };
    const errors: unknown[] = [];
    const make = (o: IdempotencyOptions<FakeRaw> = {}) =>
      createIdempotency<FakeRaw>({ store, onError: (e) => errors.push(e), ...o });

    before(async () => {
      store = await open();
    });
    after(async () => {
      for (const s of opened) await s.close();
    });

    it(`[${c.backend}] uncovered methods and keyless requests pass untouched`, async () => {
      const idem = make();
      for (const method of ['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']) {
        assert.equal((await idem.begin(fakeRequest({ method, key: freshKey() }))).kind, 'pass', method);
      }
      assert.equal((await idem.begin(fakeRequest({ method: 'POST' }))).kind, 'pass');
      assert.equal((await idem.begin(fakeRequest({ method: 'patch' }))).kind, 'pass');
      const withPut = make({ methods: ['put'] });
      assert.equal((await withPut.begin(fakeRequest({ method: 'POST', key: freshKey() }))).kind, 'pass');
      ticketOf(await withPut.begin(fakeRequest({ method: 'PUT', key: freshKey() })));
    });

    it(`[${c.backend}] a missing key where required is a 400 problem; the predicate sees the request`, async () => {
      assertProblem(
        answerOf(await make({ required: true }).begin(fakeRequest())),
        400,
        'SL_ERR_IDEMPOTENCY_KEY_MISSING',
      );
      const seen: string[] = [];
      const perRoute = make({ required: (req) => (seen.push(req.path), req.path === '/checkout') });
      assertProblem(
        answerOf(await perRoute.begin(fakeRequest({ path: '/checkout' }))),
        400,
        'SL_ERR_IDEMPOTENCY_KEY_MISSING',
      );
      assert.equal((await perRoute.begin(fakeRequest({ path: '/cart' }))).kind, 'pass');
      assert.deepEqual(seen, ['/checkout', '/cart']);
    });

    it(`[${c.backend}] malformed keys are 400 problems and reserve nothing`, async () => {
      const probe = new ProbeStore(store);
      const idem = make({ store: probe });
      for (const key of [
        '',
        '   ',
        'a b',
        'x'.repeat(256),
        '"unterminated',
        '"bad\\escape"',
        '"a"b',
        '""',
        'tab\there',
        'é',
        '"é"',
        'a\u0000',
      ]) {
        assertProblem(
          answerOf(await idem.begin(fakeRequest({ key }))),
          400,
          'SL_ERR_IDEMPOTENCY_KEY_INVALID',
        );
      }
      assert.deepEqual(probe.keys, [], 'the store was not touched');
    });

    it(`[${c.backend}] the first request reserves; a duplicate in flight is 409 with Retry-After; another body is 422`, async () => {
      const idem = make();
      const key = freshKey();
      ticketOf(await idem.begin(fakeRequest({ key })));
      const dup = answerOf(await idem.begin(fakeRequest({ key })));
      assertProblem(dup, 409, 'SL_ERR_IDEMPOTENCY_IN_FLIGHT');
      assert.ok(Number(dup.headers['retry-after']) >= 1, 'Retry-After is a number of seconds');
      assertProblem(
        answerOf(await idem.begin(fakeRequest({ key, body: { sku: 'pear', qty: 1 } }))),
        422,
        'SL_ERR_IDEMPOTENCY_MISMATCH',
      );
    });

    it(`[${c.backend}] a completed request is replayed: status, exact body, allow-listed headers, Idempotent-Replayed`, async () => {
      const idem = make();
      const key = freshKey();
      const ticket = ticketOf(await idem.begin(fakeRequest({ key })));
      await ticket.complete(created(7));
      for (let i = 0; i < 3; i++) {
        const r = await idem.begin(fakeRequest({ key }));
        assert.equal(r.kind === 'answer' && r.replayed, true);
        const a = answerOf(r);
        assert.equal(a.status, 201);
        assert.deepEqual(Buffer.from(a.body), created(7).body);
        assert.deepEqual(a.headers, {
          'content-type': 'application/json; charset=utf-8',
          location: '/orders/7',
          'idempotent-replayed': 'true',
        });
      }
      const custom = make({ replayHeaders: ['X-Trace', 'location'] });
      const key2 = freshKey();
      await ticketOf(await custom.begin(fakeRequest({ key: key2 }))).complete(created(8));
      assert.deepEqual(answerOf(await custom.begin(fakeRequest({ key: key2 }))).headers, {
        'x-trace': 'abc',
        location: '/orders/8',
        'idempotent-replayed': 'true',
      });
    });

    it(`[${c.backend}] a 500 is saved and replayed as a 500; non-UTF-8 bytes round-trip exactly`, async () => {
      const idem = make();
      const key = freshKey();
      const failure = {
        status: 500,
        headers: { 'content-type': 'application/json' },
        body: Buffer.from('{"error":"boom"}'),
      };
      await ticketOf(await idem.begin(fakeRequest({ key }))).complete(failure);
      const a = answerOf(await idem.begin(fakeRequest({ key })));
      assert.equal(a.status, 500);
      assert.equal(Buffer.from(a.body).toString(), '{"error":"boom"}');
      assert.equal(a.headers['idempotent-replayed'], 'true');

      const bytes = Buffer.from([0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28, 0x41]);
      const key2 = freshKey();
      await ticketOf(await idem.begin(fakeRequest({ key: key2 }))).complete({
        status: 200,
        headers: {},
        body: bytes,
      });
      assert.deepEqual(Buffer.from(answerOf(await idem.begin(fakeRequest({ key: key2 }))).body), bytes);
      const key3 = freshKey();
      await ticketOf(await idem.begin(fakeRequest({ key: key3 }))).complete({
        status: 204,
        headers: {},
        body: new Uint8Array(0),
      });
      const empty = answerOf(await idem.begin(fakeRequest({ key: key3 })));
      assert.equal(empty.status, 204);
      assert.equal(Buffer.from(empty.body).byteLength, 0);
    });

    it(`[${c.backend}] bare and quoted spellings are one key; spaces and escapes work inside quotes`, async () => {
      const idem = make();
      const key = freshKey();
      await ticketOf(await idem.begin(fakeRequest({ key }))).complete(created(1));
      assert.equal(answerOf(await idem.begin(fakeRequest({ key: ` "${key}"\t` }))).status, 201);
      const spaced = `"${freshKey()} with \\"quotes\\" and \\\\"`;
      await ticketOf(await idem.begin(fakeRequest({ key: spaced }))).complete(created(2));
      assert.equal(answerOf(await idem.begin(fakeRequest({ key: spaced }))).status, 201);
      const longest = 'k'.repeat(240) + Math.random().toString(36).slice(2, 17).padEnd(15, 'z');
      ticketOf(await idem.begin(fakeRequest({ key: longest })));
    });

    it(`[${c.backend}] after completion: another body or query is 422; the same JSON in another key order replays`, async () => {
      const idem = make();
      const key = freshKey();
      await ticketOf(await idem.begin(fakeRequest({ key, body: { a: 1, b: { c: 2, d: 3 } } }))).complete(
        created(3),
      );
      assert.equal(
        answerOf(await idem.begin(fakeRequest({ key, body: { b: { d: 3, c: 2 }, a: 1 } }))).status,
        201,
      );
      assertProblem(
        answerOf(await idem.begin(fakeRequest({ key, body: { a: 2, b: { c: 2, d: 3 } } }))),
        422,
        'SL_ERR_IDEMPOTENCY_MISMATCH',
      );
      assertProblem(
        answerOf(
          await idem.begin(fakeRequest({ key, query: '?coupon=1', body: { a: 1, b: { c: 2, d: 3 } } })),
        ),
        422,
        'SL_ERR_IDEMPOTENCY_MISMATCH',
      );
      assertProblem(
        answerOf(await idem.begin(fakeRequest({ key, body: '{"a":1,"b":{"c":2,"d":3}}' }))),
        422,
        'SL_ERR_IDEMPOTENCY_MISMATCH',
      );
    });

    it(`[${c.backend}] scope: another user, session, address, method or path with the same key gets its own execution`, async () => {
      const idem = make();
      const key = freshKey();
      await ticketOf(await idem.begin(fakeRequest({ key, user: 'alice' }))).complete(created(1));
      ticketOf(await idem.begin(fakeRequest({ key, user: 'bob' })));
      ticketOf(await idem.begin(fakeRequest({ key, user: null, handle: 'anon-1' })));
      ticketOf(await idem.begin(fakeRequest({ key, address: '10.0.0.2' })));
      ticketOf(await idem.begin(fakeRequest({ key, user: 'alice', path: '/refunds' })));
      ticketOf(await idem.begin(fakeRequest({ key, user: 'alice', method: 'PATCH' })));
      // The user scope wins over the session and the address: alice on another device still replays.
      assert.equal(
        answerOf(
          await idem.begin(fakeRequest({ key, user: 'alice', handle: 'other-device', address: '10.9.9.9' })),
        ).status,
        201,
      );
      const byTenant = make({ scope: (req) => `tenant:${req.user ?? 'none'}` });
      const key2 = freshKey();
      await ticketOf(await byTenant.begin(fakeRequest({ key: key2, user: 't1' }))).complete(created(2));
      assert.equal(
        answerOf(await byTenant.begin(fakeRequest({ key: key2, user: 't1', address: '1.1.1.1' }))).status,
        201,
      );
      ticketOf(await byTenant.begin(fakeRequest({ key: key2, user: 't2' })));
    });

    it(`[${c.backend}] a custom fingerprint replaces the body digest`, async () => {
      const reads = bodyReads;
      const idem = make({ fingerprint: (req) => req.path });
      const key = freshKey();
      await ticketOf(await idem.begin(fakeRequest({ key, body: { x: 1 } }))).complete(created(1));
      assert.equal(answerOf(await idem.begin(fakeRequest({ key, body: { x: 2 } }))).status, 201);
      assert.equal(bodyReads, reads, 'the body was never read');
    });

    it(`[${c.backend}] 50 concurrent duplicates over several instances reserve exactly once`, async () => {
      const instances = await Promise.all(
        Array.from({ length: 4 }, async () => make({ store: c.perObjectState ? store : await open() })),
      );
      const key = freshKey();
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => instances[i % 4]!.begin(fakeRequest({ key }))),
      );
      const tickets = results.filter((r) => r.kind === 'ticket');
      assert.equal(tickets.length, 1, 'exactly one reservation');
      for (const r of results)
        if (r.kind === 'answer') assertProblem(r.answer, 409, 'SL_ERR_IDEMPOTENCY_IN_FLIGHT');
      await ticketOf(tickets[0]!).complete(created(50));
      const after = await Promise.all(instances.map((i) => i.begin(fakeRequest({ key }))));
      for (const r of after) assert.equal(answerOf(r).headers['idempotent-replayed'], 'true');
    });

    it(`[${c.backend}] a reservation never completed (process died) frees after lockTimeout; the late outcome loses`, async () => {
      errors.length = 0;
      const idem = make({ lockTimeout: 250 });
      const key = freshKey();
      const dead = ticketOf(await idem.begin(fakeRequest({ key })));
      assertProblem(answerOf(await idem.begin(fakeRequest({ key }))), 409, 'SL_ERR_IDEMPOTENCY_IN_FLIGHT');
      await sleep(450);
      const retry = ticketOf(await idem.begin(fakeRequest({ key })));
      await dead.complete(created(1));
      assert.ok(
        errors.some((e) => isStatelineError(e, 'SL_ERR_IDEMPOTENCY_LOCK_EXPIRED')),
        'the takeover is reported',
      );
      assertProblem(answerOf(await idem.begin(fakeRequest({ key }))), 409, 'SL_ERR_IDEMPOTENCY_IN_FLIGHT');
      await retry.complete(created(2));
      assert.equal(
        JSON.parse(Buffer.from(answerOf(await idem.begin(fakeRequest({ key }))).body).toString()).order,
        2,
      );
    });

    it(`[${c.backend}] an outcome that arrives after its lock expired, with no retry yet, is still kept`, async () => {
      const idem = make({ lockTimeout: 200 });
      const key = freshKey();
      const slow = ticketOf(await idem.begin(fakeRequest({ key })));
      await sleep(400);
      await slow.complete(created(9));
      assert.equal(answerOf(await idem.begin(fakeRequest({ key }))).status, 201);
    });

    it(`[${c.backend}] abandon frees the key at once; an abandoned-late ticket leaves the new owner alone`, async () => {
      const idem = make({ lockTimeout: 200 });
      const key = freshKey();
      await ticketOf(await idem.begin(fakeRequest({ key }))).abandon();
      const second = ticketOf(await idem.begin(fakeRequest({ key })));
      await sleep(400);
      const third = ticketOf(await idem.begin(fakeRequest({ key })));
      await second.abandon();
      assertProblem(answerOf(await idem.begin(fakeRequest({ key }))), 409, 'SL_ERR_IDEMPOTENCY_IN_FLIGHT');
      await third.complete(created(3));
      await third.abandon();
      assert.equal(answerOf(await idem.begin(fakeRequest({ key }))).status, 201);
    });

    it(`[${c.backend}] a response too large to keep: retries are refused for good, never run again`, async () => {
      const idem = make({ maxBodyBytes: 16 });
      const key = freshKey();
      const ticket = ticketOf(await idem.begin(fakeRequest({ key })));
      assert.equal(ticket.maxBodyBytes, 16);
      await ticket.complete({
        status: 201,
        headers: { location: '/orders/77', 'content-type': 'text/plain' },
        body: null,
      });
      for (let i = 0; i < 2; i++) {
        const a = answerOf(await idem.begin(fakeRequest({ key })));
        const doc = assertProblem(a, 409, 'SL_ERR_IDEMPOTENCY_RESPONSE_NOT_STORED');
        assert.equal(a.headers['retry-after'], undefined, 'final: no Retry-After');
        assert.equal(doc.originalStatus, 201);
        assert.deepEqual(doc.originalHeaders, { location: '/orders/77', 'content-type': 'text/plain' });
      }
      assertProblem(
        answerOf(await idem.begin(fakeRequest({ key, body: 'other' }))),
        422,
        'SL_ERR_IDEMPOTENCY_MISMATCH',
      );
    });

    it(`[${c.backend}] a completed outcome is forgotten after ttl`, async () => {
      const idem = make({ ttl: 250 });
      const key = freshKey();
      await ticketOf(await idem.begin(fakeRequest({ key }))).complete(created(1));
      assert.equal(answerOf(await idem.begin(fakeRequest({ key }))).status, 201);
      await sleep(450);
      ticketOf(await idem.begin(fakeRequest({ key })));
    });

    it(`[${c.backend}] a store outage while reserving is a 503 with Retry-After and no ticket; a failed save goes to onError`, async () => {
      errors.length = 0;
      const probe = new ProbeStore(store);
      const idem = make({ store: probe });
      probe.failing.add('create');
      const a = answerOf(await idem.begin(fakeRequest({ key: freshKey() })));
      assertProblem(a, 503, 'SL_ERR_STORE_UNAVAILABLE');
      assert.equal(a.headers['retry-after'], '1');
      assert.ok(errors.some((e) => isStatelineError(e, 'SL_ERR_STORE_UNAVAILABLE')));
      probe.failing.clear();
      const key = freshKey();
      const ticket = ticketOf(await idem.begin(fakeRequest({ key })));
      probe.failing.add('update').add('get');
      errors.length = 0;
      await ticket.complete(created(1));
      assert.equal(errors.length, 1);
      probe.failing.clear();
      assertProblem(answerOf(await idem.begin(fakeRequest({ key }))), 409, 'SL_ERR_IDEMPOTENCY_IN_FLIGHT');
    });

    it(`[${c.backend}] store keys are hashed and bounded: no raw key or scope reaches the store`, async () => {
      const probe = new ProbeStore(store);
      const idem = make({ store: probe });
      const key = `"${'raw key '.repeat(31)}"`;
      await ticketOf(
        await idem.begin(fakeRequest({ key, user: 'user-with-a-long-id-'.repeat(50) })),
      ).complete(created(1));
      assert.ok(probe.keys.length >= 2);
      for (const k of probe.keys) {
        assert.match(k, /^idem:[A-Za-z0-9_-]{43}$/);
      }
    });

    it(`[${c.backend}] a callback that throws is a 500 problem that names no internals, and is reported`, async () => {
      errors.length = 0;
      const idem = make({
        scope: () => {
          throw new Error('secret database password in message');
        },
      });
      const a = answerOf(await idem.begin(fakeRequest({ key: freshKey() })));
      const doc = assertProblem(a, 500, 'SL_ERR_INTERNAL');
      assert.doesNotMatch(JSON.stringify(doc), /secret/);
      assert.equal(errors.length, 1);
    });
  });
}
