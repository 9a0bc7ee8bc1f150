/**
 * The must-show scenarios, run through a real server for each framework adapter. An adapter test
 * builds its app the same way every time (see `AdapterHarness.start`) and hands every route to
 * `Behaviour.handle`, so the frameworks differ only in how they wire the middleware.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isStatelineError } from '../../src/errors.js';
import { MemoryStore, type Store } from '../../src/store/index.js';
import { eventually } from '../support/free-port.js';
import { ProbeStore } from './idempotency.case.js';

/** What one handler call produces. */
export interface Outcome {
  status: number;
  headers: Record<string, string | string[]>;
  body: string | Buffer;
}

/** What an adapter must wire: every route calls `handle` with what the framework parsed. */
export interface HandleInput {
  method: string;
  path: string;
  user: string | undefined;
  /** The body as the framework's handler sees it, echoed back in the response. */
  body: unknown;
}

export interface ScenarioConfig {
  store: Store;
  lockTimeout: number;
  maxBodyBytes: number;
  onError: (err: unknown) => void;
  /** Paths that need a key; the adapter's `required` predicate reads the path from its request. */
  requiredFor: (path: string) => boolean;
}

export interface AdapterHarness {
  name: string;
  /**
   * Starts an app on port 0: a session stub (`x-user` header → session `{ userId, handle }`), then
   * the adapter's idempotency middleware built from `config`, then one catch-all route calling
   * `behaviour.handle`. A throwing `handle` must reach the framework's own error handling.
   */
  start(config: ScenarioConfig, behaviour: Behaviour): Promise<{ url: string; close(): Promise<void> }>;
}

/** The handlers behind every adapter's routes. */
export class Behaviour {
  readonly calls = new Map<string, number>();
  readonly hangStarted: Promise<void>;
  private startHang!: () => void;
  private releaseHang!: () => void;
  private readonly hangGate: Promise<void>;

  constructor(readonly bigBytes: number) {
    this.hangStarted = new Promise((r) => (this.startHang = r));
    this.hangGate = new Promise((r) => (this.releaseHang = r));
  }

  count(path: string): number {
    return this.calls.get(path) ?? 0;
  }

  release(): void {
    this.releaseHang();
  }

  async handle(input: HandleInput): Promise<Outcome> {
    const key = `${input.method} ${input.path}`;
    const n = this.count(key) + 1;
    this.calls.set(key, n);
    const json = (
      status: number,
      value: unknown,
      headers: Record<string, string | string[]> = {},
    ): Outcome => ({
      status,
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(value),
    });
    switch (input.method === 'GET' ? 'GET' : input.path) {
      case '/orders':
        await new Promise((r) => setTimeout(r, 40));
        return json(
          201,
          { order: n, user: input.user ?? null, echo: input.body },
          { location: `/orders/${n}`, 'x-request-only': 'yes', 'set-cookie': ['sid=first'] },
        );
      case '/fail':
        return json(500, { error: 'out of stock', attempt: n });
      case '/throw':
        throw new Error(`handler failed on attempt ${n}`);
      case '/hang':
        if (n === 1) {
          this.startHang();
          await this.hangGate;
        }
        return json(200, { attempt: n });
      case '/big':
        return { status: 200, headers: { 'content-type': 'text/plain' }, body: 'x'.repeat(this.bigBytes) };
      case '/binary':
        return { status: 200, headers: { 'content-type': 'application/octet-stream' }, body: BINARY };
      default:
        return json(200, { path: input.path, attempt: n });
    }
  }
}

const BINARY = Buffer.from([0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28, 0x0a, 0x0d]);

interface Sent {
  status: number;
  headers: Headers;
  bytes: Buffer;
  json: Record<string, unknown>;
}

export function runAdapterScenarios(h: AdapterHarness): void {
  describe(`idempotency through ${h.name}`, () => {
    let now = 1_700_000_000_000;
    const store = new MemoryStore({ now: () => now });
    const errors: unknown[] = [];
    const maxBodyBytes = 4096;
    const behaviour = new Behaviour(maxBodyBytes + 100);
    const config: ScenarioConfig = {
      store,
      lockTimeout: 60_000,
      maxBodyBytes,
      onError: (err) => errors.push(err),
      requiredFor: (path) => path !== '/optional',
    };
    let server: { url: string; close(): Promise<void> };
    let keyNo = 0;
    const freshKey = () => `${h.name}-${++keyNo}-${Math.random().toString(36).slice(2)}`;

    const send = async (
      o: {
        path?: string;
        method?: string;
        key?: string;
        user?: string;
        body?: unknown;
        signal?: AbortSignal;
      },
      base = server.url,
    ): Promise<Sent> => {
      const headers: Record<string, string> = {};
      if (o.key !== undefined) headers['idempotency-key'] = o.key;
      if (o.user !== undefined) headers['x-user'] = o.user;
      const method = o.method ?? 'POST';
      const hasBody = method !== 'GET' && method !== 'HEAD';
      if (hasBody) headers['content-type'] = 'application/json';
      const res = await fetch(base + (o.path ?? '/orders'), {
        method,
        headers,
        ...(hasBody ? { body: JSON.stringify(o.body ?? { sku: 'apple', qty: 1 }) } : {}),
        ...(o.signal ? { signal: o.signal } : {}),
      });
      const bytes = Buffer.from(await res.arrayBuffer());
      let json: Record<string, unknown> = {};
      try {
        json = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
      } catch {
        // Not every body is JSON (binary, text); tests that need it check `bytes`.
      }
      return { status: res.status, headers: res.headers, bytes, json };
    };
    const assertProblem = (r: Sent, status: number, code: string) => {
      assert.equal(r.status, status, r.bytes.toString());
      assert.match(r.headers.get('content-type') ?? '', /^application\/problem\+json/);
      assert.equal(r.json.code, code);
    };
    const assertReplayOf = (r: Sent, first: Sent) => {
      assert.equal(r.status, first.status);
      assert.deepEqual(r.bytes, first.bytes);
      assert.equal(r.headers.get('idempotent-replayed'), 'true');
      assert.equal(r.headers.get('content-type'), first.headers.get('content-type'));
    };

    before(async () => {
      server = await h.start(config, behaviour);
    });
    after(async () => {
      behaviour.release();
      await server.close();
      await store.close();
    });

    it(`[${h.name}] 50 concurrent identical requests run the handler once; the rest get 409 or the replay; retries replay`, async () => {
      const key = freshKey();
      const before = behaviour.count('POST /orders');
      const all = await Promise.all(Array.from({ length: 50 }, () => send({ key })));
      assert.equal(behaviour.count('POST /orders') - before, 1, 'the handler ran exactly once');
      const originals = all.filter((r) => r.status === 201 && r.headers.get('idempotent-replayed') === null);
      assert.equal(originals.length, 1, 'one original response');
      const first = originals[0]!;
      assert.equal(first.headers.get('x-request-only'), 'yes');
      for (const r of all) {
        if (r.status === 409) {
          assertProblem(r, 409, 'SL_ERR_IDEMPOTENCY_IN_FLIGHT');
          assert.ok(Number(r.headers.get('retry-after')) >= 1);
        } else {
          assert.equal(r.status, 201, `unexpected ${r.status} ${r.bytes.toString()}`);
          if (r !== first) assertReplayOf(r, first);
        }
      }
      for (let i = 0; i < 3; i++) {
        const retry = await send({ key });
        assertReplayOf(retry, first);
        assert.equal(retry.headers.get('location'), first.headers.get('location'));
        assert.equal(
          retry.headers.get('x-request-only'),
          null,
          'headers off the allow-list are not replayed',
        );
        assert.equal(retry.headers.get('set-cookie'), null, 'cookies are never replayed');
      }
      assert.equal(behaviour.count('POST /orders') - before, 1);
    });

    it(`[${h.name}] a changed body with the same key is a 422 problem`, async () => {
      const key = freshKey();
      assert.equal((await send({ key, body: { sku: 'apple', qty: 1 } })).status, 201);
      const before = behaviour.count('POST /orders');
      assertProblem(await send({ key, body: { sku: 'apple', qty: 2 } }), 422, 'SL_ERR_IDEMPOTENCY_MISMATCH');
      assert.equal(behaviour.count('POST /orders'), before);
    });

    it(`[${h.name}] a missing key where required is a 400 problem; where not required the request runs`, async () => {
      const before = behaviour.count('POST /orders');
      assertProblem(await send({}), 400, 'SL_ERR_IDEMPOTENCY_KEY_MISSING');
      assert.equal(behaviour.count('POST /orders'), before, 'the handler did not run');
      const optional = behaviour.count('POST /optional');
      assert.equal((await send({ path: '/optional' })).status, 200);
      assert.equal((await send({ path: '/optional' })).status, 200);
      assert.equal(behaviour.count('POST /optional') - optional, 2);
    });

    it(`[${h.name}] a malformed key is a 400 problem and the handler does not run`, async () => {
      const before = behaviour.count('POST /orders');
      for (const key of ['"unterminated', 'x'.repeat(256), 'two words', '"bad\\escape"']) {
        assertProblem(await send({ key }), 400, 'SL_ERR_IDEMPOTENCY_KEY_INVALID');
      }
      assert.equal(behaviour.count('POST /orders'), before);
      const quoted = freshKey();
      const first = await send({ key: `"${quoted}"` });
      assertReplayOf(await send({ key: quoted }), first);
    });

    it(`[${h.name}] a second user with the same key gets their own execution, never the first user's replay`, async () => {
      const key = freshKey();
      const before = behaviour.count('POST /orders');
      const alice = await send({ key, user: 'alice' });
      const bob = await send({ key, user: 'bob' });
      assert.equal(behaviour.count('POST /orders') - before, 2);
      assert.equal(alice.json.user, 'alice');
      assert.equal(bob.json.user, 'bob');
      assert.equal(bob.headers.get('idempotent-replayed'), null);
      assertReplayOf(await send({ key, user: 'alice' }), alice);
      assertReplayOf(await send({ key, user: 'bob' }), bob);
      // Without a session the client address scopes the key: also apart from both users.
      assert.equal((await send({ key })).headers.get('idempotent-replayed'), null);
    });

    it(`[${h.name}] a 500 from the handler is saved and replayed as a 500`, async () => {
      const key = freshKey();
      const first = await send({ key, path: '/fail' });
      assert.equal(first.status, 500);
      assert.equal(first.json.attempt, behaviour.count('POST /fail'));
      const before = behaviour.count('POST /fail');
      assertReplayOf(await send({ key, path: '/fail' }), first);
      assert.equal(behaviour.count('POST /fail'), before);
    });

    it(`[${h.name}] a handler that throws: the framework's error response is saved and replayed`, async () => {
      const key = freshKey();
      const first = await send({ key, path: '/throw' });
      assert.equal(first.status, 500);
      const before = behaviour.count('POST /throw');
      const retry = await send({ key, path: '/throw' });
      assertReplayOf(retry, first);
      assert.equal(behaviour.count('POST /throw'), before, 'not run again');
    });

    it(`[${h.name}] a crashed handler's reservation frees after the lock timeout (fake clock)`, async () => {
      const key = freshKey();
      const abort = new AbortController();
      const crashed = send({ key, path: '/hang', signal: abort.signal }).catch((err: unknown) => err);
      await behaviour.hangStarted;
      assertProblem(await send({ key, path: '/hang' }), 409, 'SL_ERR_IDEMPOTENCY_IN_FLIGHT');
      now += config.lockTimeout - 1;
      assertProblem(await send({ key, path: '/hang' }), 409, 'SL_ERR_IDEMPOTENCY_IN_FLIGHT');
      now += 1;
      const retried = await send({ key, path: '/hang' });
      assert.equal(retried.status, 200);
      assert.equal(retried.json.attempt, 2, 'the retry ran the handler again');
      assertReplayOf(await send({ key, path: '/hang' }), retried);
      // The first handler finally ends: its outcome must not replace the retry's.
      abort.abort();
      await crashed;
      errors.length = 0;
      behaviour.release();
      await eventually(
        () => errors.some((e) => isStatelineError(e, 'SL_ERR_IDEMPOTENCY_LOCK_EXPIRED')),
        3000,
      );
      assertReplayOf(await send({ key, path: '/hang' }), retried);
    });

    it(`[${h.name}] a response too large to keep reaches the client whole; retries are refused, not re-run`, async () => {
      const key = freshKey();
      const first = await send({ key, path: '/big' });
      assert.equal(first.status, 200);
      assert.equal(first.bytes.byteLength, maxBodyBytes + 100);
      const before = behaviour.count('POST /big');
      const retry = await send({ key, path: '/big' });
      assertProblem(retry, 409, 'SL_ERR_IDEMPOTENCY_RESPONSE_NOT_STORED');
      assert.equal(retry.json.originalStatus, 200);
      assert.equal(retry.headers.get('retry-after'), null);
      assert.equal(behaviour.count('POST /big'), before);
    });

    it(`[${h.name}] a binary body is replayed byte for byte`, async () => {
      const key = freshKey();
      const first = await send({ key, path: '/binary' });
      assert.deepEqual(first.bytes, BINARY);
      assertReplayOf(await send({ key, path: '/binary' }), first);
    });

    it(`[${h.name}] methods not covered pass through, key or not`, async () => {
      const key = freshKey();
      const before = behaviour.count('GET /orders');
      const a = await send({ key, method: 'GET' });
      const b = await send({ key, method: 'GET' });
      assert.equal(a.status, 200);
      assert.equal(b.headers.get('idempotent-replayed'), null);
      assert.equal(behaviour.count('GET /orders') - before, 2);
    });

    it(`[${h.name}] the outcome is saved before the response ends: an immediate retry is a replay, even on a slow store`, async () => {
      const probe = new ProbeStore(store);
      probe.updateDelay = 150;
      const slow = await h.start({ ...config, store: probe }, behaviour);
      try {
        for (const path of ['/orders', '/throw', '/big']) {
          const key = freshKey();
          const first = await send({ key, path }, slow.url);
          const retry = await send({ key, path }, slow.url);
          if (path === '/big') assertProblem(retry, 409, 'SL_ERR_IDEMPOTENCY_RESPONSE_NOT_STORED');
          else assertReplayOf(retry, first);
        }
      } finally {
        await slow.close();
      }
    });

    it(`[${h.name}] a store outage while reserving is a 503 with Retry-After and the handler does not run`, async () => {
      const probe = new ProbeStore(store);
      probe.failing.add('create');
      const outage = await h.start({ ...config, store: probe }, behaviour);
      try {
        const before = behaviour.count('POST /orders');
        const r = await send({ key: freshKey() }, outage.url);
        assertProblem(r, 503, 'SL_ERR_STORE_UNAVAILABLE');
        assert.equal(r.headers.get('retry-after'), '1');
        assert.equal(behaviour.count('POST /orders'), before);
      } finally {
        await outage.close();
      }
    });
  });
}
