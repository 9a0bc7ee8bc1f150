import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isStatelineError } from '../../src/errors.js';
import { DEFAULT_STORE, createIdempotency } from '../../src/idempotency/index.js';
import { MemoryStore, createStore, storeOptionsFromSpec } from '../../src/store/index.js';
import {
  answerOf,
  assertProblem,
  fakeRequest,
  runIdempotencyConformance,
  ticketOf,
} from './idempotency.case.js';

runIdempotencyConformance({
  backend: 'memory',
  make: (prefix) => createStore({ type: 'memory', prefix }),
  perObjectState: 'a memory store keeps its records in the object itself; instances share the one object',
});

describe('idempotency options and lifecycle [memory]', () => {
  it('refuses unknown and ill-typed options with SL_ERR_INVALID_OPTION', () => {
    const bad: unknown[] = [
      { ttl: 'forever' },
      { ttl: 0 },
      { lockTimeout: -1 },
      { methods: [] },
      { methods: ['PO ST'] },
      { required: 'yes' },
      { replayHeaders: ['Set-Cookie'] },
      { replayHeaders: ['bad header'] },
      { maxBodyBytes: 1.5 },
      { scope: 'user' },
      { fingerprint: 42 },
      { lockTimout: 1000 },
    ];
    for (const options of bad) {
      assert.throws(
        () => createIdempotency(options as Parameters<typeof createIdempotency>[0]),
        (err) => isStatelineError(err, 'SL_ERR_INVALID_OPTION'),
        JSON.stringify(options),
      );
    }
    assert.throws(
      () => createIdempotency({ store: 'nosuch://x' }),
      (err) => isStatelineError(err, 'SL_ERR_INVALID_SPEC'),
    );
  });

  it('accepts duration strings', async () => {
    let now = 1_000_000;
    const store = new MemoryStore({ now: () => now });
    const idem = createIdempotency({ store, ttl: '2h', lockTimeout: '90s' });
    const ticket = ticketOf(await idem.begin(fakeRequest({ key: 'd' })));
    now += 89_999;
    assertProblem(answerOf(await idem.begin(fakeRequest({ key: 'd' }))), 409, 'SL_ERR_IDEMPOTENCY_IN_FLIGHT');
    await ticket.complete({ status: 200, headers: {}, body: Buffer.from('ok') });
    now += 2 * 3_600_000 - 1;
    assert.equal(answerOf(await idem.begin(fakeRequest({ key: 'd' }))).status, 200);
    now += 1;
    ticketOf(await idem.begin(fakeRequest({ key: 'd' })));
    await store.close();
  });

  it('opens a store from a spec on first use and closes it; a passed store stays open', async () => {
    const idem = createIdempotency({ store: 'memory:' });
    ticketOf(await idem.begin(fakeRequest({ key: 'k' })));
    assertProblem(answerOf(await idem.begin(fakeRequest({ key: 'k' }))), 409, 'SL_ERR_IDEMPOTENCY_IN_FLIGHT');
    await idem.close();
    const errors: unknown[] = [];
    const closed = createIdempotency({ store: 'memory:', onError: (e) => errors.push(e) });
    await closed.close();
    assertProblem(answerOf(await closed.begin(fakeRequest({ key: 'k' }))), 503, 'SL_ERR_CLOSED');
    assert.equal(errors.length, 1, 'a 5xx is reported');

    const mine = new MemoryStore();
    const other = createIdempotency({ store: mine });
    await other.close();
    assert.equal((await mine.create('still-open', 'x')).ok, true);
    await mine.close();
  });

  it('the default store is the embedded SQLite file', () => {
    assert.equal(DEFAULT_STORE, 'sqlite:.stateline/state.db');
    assert.deepEqual(storeOptionsFromSpec(DEFAULT_STORE), { type: 'sqlite', path: '.stateline/state.db' });
  });

  it('a crashed handler’s reservation frees after lockTimeout (fake clock)', async () => {
    let now = 5_000;
    const store = new MemoryStore({ now: () => now });
    const idem = createIdempotency({ store, lockTimeout: 60_000 });
    ticketOf(await idem.begin(fakeRequest({ key: 'crash' })));
    now += 59_999;
    assertProblem(
      answerOf(await idem.begin(fakeRequest({ key: 'crash' }))),
      409,
      'SL_ERR_IDEMPOTENCY_IN_FLIGHT',
    );
    now += 1;
    ticketOf(await idem.begin(fakeRequest({ key: 'crash' })));
    await store.close();
  });
});
