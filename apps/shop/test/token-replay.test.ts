/**
 * The sealed replay of token requests sent with an Idempotency-Key (src/token-replay.ts), on a
 * memory Store with a hand-moved clock: one issue per request, the same answer to its retries, a
 * retry during the first attempt told to wait, a dead attempt taken over, refusals not kept, and
 * nothing usable in the Store.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import type { StatelineError } from 'stateline/errors';
import { createStore } from 'stateline/store';
import { REPLAY_LOCK_MS, TokenReplay } from '../src/token-replay.js';

async function setup() {
  const store = await createStore('memory:');
  let now = 1_000_000;
  const replay = new TokenReplay(store, randomBytes(32), () => now);
  return { store, replay, tick: (ms: number) => (now += ms) };
}

describe('token replay', () => {
  it('issues once; a retry with the same parts gets the same answer, other parts issue again', async () => {
    const { store, replay } = await setup();
    let issued = 0;
    const issue = async () => ({ refreshToken: `secret-${++issued}` });
    const a = await replay.run(['refresh', 'r1', 'k1'], issue);
    const b = await replay.run(['refresh', 'r1', 'k1'], issue);
    const c = await replay.run(['refresh', 'r1', 'k2'], issue);
    assert.deepEqual(
      [a, b, c],
      [{ refreshToken: 'secret-1' }, { refreshToken: 'secret-1' }, { refreshToken: 'secret-2' }],
    );
    await store.close();
  });

  it('a retry while the first attempt runs is told to ask again; a dead attempt is taken over after the lock', async () => {
    const { store, replay, tick } = await setup();
    let release!: () => void;
    const first = replay.run(
      ['issue', 'alice', 'pw', 'k'],
      () => new Promise<string>((r) => (release = () => r('never saved'))),
    );
    await new Promise((r) => setImmediate(r));
    await assert.rejects(
      replay.run(['issue', 'alice', 'pw', 'k'], async () => 'second'),
      (err: StatelineError) => err.code === 'SL_ERR_IDEMPOTENCY_IN_FLIGHT' && err.status === 409,
    );
    // The first attempt's instance "died": its reservation is older than the lock.
    tick(REPLAY_LOCK_MS + 1);
    assert.equal(await replay.run(['issue', 'alice', 'pw', 'k'], async () => 'taken over'), 'taken over');
    release();
    assert.equal(await first, 'never saved');
    // The late first attempt could not overwrite the answer of the one that took over.
    assert.equal(await replay.run(['issue', 'alice', 'pw', 'k'], async () => 'third'), 'taken over');
    await store.close();
  });

  it('a refusal is not kept: the same request is judged again', async () => {
    const { store, replay } = await setup();
    await assert.rejects(
      replay.run(['refresh', 'r9', 'k'], async () => Promise.reject(new Error('refused'))),
    );
    assert.equal(await replay.run(['refresh', 'r9', 'k'], async () => 'ok'), 'ok');
    await store.close();
  });

  it('the Store holds the answer sealed, under a key that does not reveal the request', async () => {
    const store = await createStore('memory:');
    const seen: string[] = [];
    const spy = new Proxy(store, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) => {
          if (prop === 'create' || prop === 'update') seen.push(String(args[0]), String(args[1]));
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const replay = new TokenReplay(spy, randomBytes(32));
    await replay.run(['refresh', 'the-old-refresh-token', 'key-1'], async () => ({
      refreshToken: 'the-new-refresh-token',
    }));
    const written = seen.join('\n');
    assert.doesNotMatch(written, /the-new-refresh-token|the-old-refresh-token|key-1/);
    assert.match(written, /"state":"done","sealed":"[\w-]+"/);
    await store.close();
  });
});
