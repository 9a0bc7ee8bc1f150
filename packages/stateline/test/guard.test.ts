/**
 * CallGuard (src/internal/guard.ts): the FIFO-deadline guard every backend call goes through.
 * Timings use a 100 ms timeout and allow generous scheduling slack (2 shared cores), but never
 * accept a call that settles before its timeout.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { isStatelineError, StatelineError } from '../src/errors.js';
import { CallGuard } from '../src/internal/guard.js';
import { sleep } from './support/free-port.js';

const TIMEOUT = 100;
/** How late a timeout may fire on a busy shared machine. */
const SLACK = 150;

const hang = () => new Promise<never>(() => {});
const guard = (timeout = TIMEOUT) => new CallGuard('SL_ERR_STORE_UNAVAILABLE', 'test store', timeout);

/** Rejects-with-timeout check; returns when the rejection arrived, in ms since `t0`. */
async function timesOut(call: Promise<unknown>, op: string, t0: number): Promise<number> {
  await assert.rejects(
    call,
    (err) =>
      isStatelineError(err, 'SL_ERR_STORE_UNAVAILABLE') &&
      err.message.endsWith(`: test store: ${op} took longer than ${TIMEOUT} ms`),
  );
  return performance.now() - t0;
}

/** Calls still linked in the guard's FIFO (settled ones included). */
function fifoLength(g: CallGuard): number {
  let n = 0;
  for (let p = (g as unknown as { head?: { next?: unknown } }).head; p; p = p.next as typeof p) n++;
  return n;
}

describe('CallGuard', () => {
  // The guard's timer is unref'd (that is tested below): something must keep this process alive
  // while a test waits for nothing but that timer.
  let keepAlive: NodeJS.Timeout;
  before(() => {
    keepAlive = setInterval(() => {}, 1000);
  });
  after(() => clearInterval(keepAlive));

  it('passes sync and async results through', async () => {
    const g = guard();
    assert.equal(await g.run('sync', () => 1), 1);
    assert.equal(await g.run('async', async () => 2), 2);
    const thenable = { then: (ok: (v: number) => void) => ok(3) };
    assert.equal(await g.run('thenable', () => thenable as unknown as Promise<number>), 3);
    assert.equal(fifoLength(g), 0);
  });

  it('parse runs on the reply in the settling reaction; what it throws is mapped like a failure', async () => {
    const g = guard();
    assert.deepEqual(
      await g.run(
        'get',
        async () => '2:x',
        (r) => r.split(':'),
      ),
      ['2', 'x'],
    );
    assert.equal(
      await g.run(
        'sync',
        () => 'a',
        (r) => r.toUpperCase(),
      ),
      'A',
    );
    const bad = new Error('unexpected reply');
    await assert.rejects(
      g.run(
        'get',
        async () => 'x',
        () => {
          throw bad;
        },
      ),
      (err) => isStatelineError(err, 'SL_ERR_STORE_UNAVAILABLE') && err.cause === bad,
    );
    await assert.rejects(
      g.run(
        'sync',
        () => 'x',
        () => {
          throw bad;
        },
      ),
      (err) => isStatelineError(err, 'SL_ERR_STORE_UNAVAILABLE') && err.cause === bad,
    );
    let parsed = false;
    await assert.rejects(
      g.run(
        'get',
        () => Promise.reject(bad),
        () => (parsed = true),
      ),
      (err) => isStatelineError(err, 'SL_ERR_STORE_UNAVAILABLE'),
    );
    assert.equal(parsed, false, 'parse never sees a failure');
    assert.equal(fifoLength(g), 0);
  });

  it('a hung call times out at the timeout, not before, while faster calls beside it resolve', async () => {
    const g = guard();
    const t0 = performance.now();
    const hung = timesOut(g.run('hung', hang), 'hung', t0);
    const fast = g.run('fast', async () => 'fast');
    const late = g.run('late', () => sleep(60).then(() => 'late-but-in-time'));
    assert.equal(await fast, 'fast');
    assert.equal(await late, 'late-but-in-time');
    const took = await hung;
    assert.ok(took >= TIMEOUT - 1 && took < TIMEOUT + SLACK, `timed out after ${took.toFixed(1)} ms`);
  });

  it('staggered hung calls expire in call order, each at its own deadline', async () => {
    const g = guard();
    const t0 = performance.now();
    const order: string[] = [];
    const track = (op: string, start: number) =>
      timesOut(g.run(op, hang), op, start).then((ms) => {
        order.push(op);
        return ms;
      });
    const a = track('a', t0);
    await sleep(40);
    const tb = performance.now();
    const b = track('b', tb);
    await sleep(20);
    const tc = performance.now();
    const c = track('c', tc);
    const [ta, tbb, tcc] = await Promise.all([a, b, c]);
    assert.deepEqual(order, ['a', 'b', 'c']);
    for (const [name, ms] of [
      ['a', ta],
      ['b', tbb],
      ['c', tcc],
    ] as const) {
      assert.ok(
        ms >= TIMEOUT - 1 && ms < TIMEOUT + SLACK,
        `${name} timed out after ${ms.toFixed(1)} ms of its own`,
      );
    }
    assert.equal(fifoLength(g), 0);
  });

  it('calls may settle out of order: a later call resolves while an older one hangs, then the older one expires', async () => {
    const g = guard();
    const t0 = performance.now();
    let release!: (v: string) => void;
    const first = g.run('first', () => new Promise<string>((r) => (release = r)));
    const second = g.run('second', () => sleep(10).then(() => 'second'));
    const hung = timesOut(g.run('hung', hang), 'hung', t0);
    assert.equal(await second, 'second');
    release('first');
    assert.equal(await first, 'first');
    const took = await hung;
    assert.ok(took >= TIMEOUT - 1 && took < TIMEOUT + SLACK, `timed out after ${took.toFixed(1)} ms`);
  });

  it('a call settling after its timeout changes nothing and leaves no unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (err: unknown) => unhandled.push(err);
    process.on('unhandledRejection', onUnhandled);
    try {
      const g = guard();
      const t0 = performance.now();
      const lateFail = g.run('late-fail', () =>
        sleep(TIMEOUT + 50).then(() => Promise.reject(new Error('boom'))),
      );
      const lateOk = g.run('late-ok', () => sleep(TIMEOUT + 50).then(() => 'too late'));
      await timesOut(lateFail, 'late-fail', t0);
      await timesOut(lateOk, 'late-ok', t0);
      await sleep(100);
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('maps driver failures to the backend code; StatelineErrors pass through', async () => {
    const g = guard();
    const boom = new Error('ECONNRESET');
    await assert.rejects(
      g.run('sync-throw', () => {
        throw boom;
      }),
      (err) =>
        isStatelineError(err, 'SL_ERR_STORE_UNAVAILABLE') &&
        err.message.endsWith(': test store: sync-throw failed (ECONNRESET)') &&
        err.cause === boom,
    );
    await assert.rejects(
      g.run('async-reject', () => Promise.reject(boom)),
      (err) =>
        isStatelineError(err, 'SL_ERR_STORE_UNAVAILABLE') &&
        err.message.endsWith(': test store: async-reject failed (ECONNRESET)') &&
        err.cause === boom,
    );
    await assert.rejects(
      g.run('string', () => Promise.reject('just a string')),
      (err) => isStatelineError(err, 'SL_ERR_STORE_UNAVAILABLE') && /just a string/.test(err.message),
    );
    const own = new StatelineError('SL_ERR_INVALID_ARGUMENT', 'bad ttl');
    await assert.rejects(
      g.run('own', () => {
        throw own;
      }),
      (err) => err === own,
    );
    await assert.rejects(
      g.run('own-async', () => Promise.reject(own)),
      (err) => err === own,
    );
    const bus = new CallGuard('SL_ERR_BUS_UNAVAILABLE', 'test bus', TIMEOUT);
    await assert.rejects(
      bus.run('publish', () => Promise.reject(boom)),
      (err) => isStatelineError(err, 'SL_ERR_BUS_UNAVAILABLE'),
    );
    assert.equal(fifoLength(g), 0);
  });

  it('refuses calls after close (without calling fn); calls in flight still settle and still time out', async () => {
    const g = guard();
    const t0 = performance.now();
    const inFlight = g.run('in-flight', () => sleep(10).then(() => 'done'));
    const hung = timesOut(g.run('hung', hang), 'hung', t0);
    assert.equal(g.isClosed, false);
    assert.equal(g.close(), true);
    assert.equal(g.close(), false, 'only the first close reports true');
    assert.equal(g.isClosed, true);
    let called = false;
    await assert.rejects(
      g.run('after', () => {
        called = true;
        return 1;
      }),
      (err) => isStatelineError(err, 'SL_ERR_CLOSED') && err.message.endsWith(': test store was closed'),
    );
    assert.equal(called, false);
    assert.equal(await inFlight, 'done');
    await hung;
  });

  it('continuous traffic behind a hung call neither delays its timeout nor outlives it in the FIFO', async () => {
    const g = guard();
    const t0 = performance.now();
    const hung = timesOut(g.run('hung', hang), 'hung', t0);
    let running = true;
    let done = 0;
    let maxLinked = 0;
    // 20 loops of calls settling in shuffled order for 2.5 timeouts.
    const loops = Array.from({ length: 20 }, async (_, w) => {
      for (let i = 0; running; i++) {
        assert.equal(await g.run('x', () => sleep((w + i) % 4).then(() => i)), i);
        done++;
        maxLinked = Math.max(maxLinked, fifoLength(g));
      }
    });
    const took = await hung;
    assert.ok(took >= TIMEOUT - 1 && took < TIMEOUT + SLACK, `timed out after ${took.toFixed(1)} ms`);
    await sleep(TIMEOUT * 1.5);
    running = false;
    await Promise.all(loops);
    assert.ok(done > 100, `traffic ran (${done} calls)`);
    assert.ok(maxLinked > 20, 'settled calls waited behind the hung one');
    assert.equal(fifoLength(g), 0, 'nothing stays linked once everything settled');
  });

  it('a long burst behind a hung call settles in full and is released when the hung call expires', async () => {
    const g = guard();
    const t0 = performance.now();
    const hung = timesOut(g.run('hung', hang), 'hung', t0);
    const calls: Promise<number>[] = [];
    for (let i = 0; i < 20_000; i++) calls.push(g.run('x', () => Promise.resolve(i)));
    const results = await Promise.all(calls);
    assert.equal(results[19_999], 19_999);
    assert.equal(fifoLength(g), 20_001, 'settled calls wait behind the hung one (bounded by the timeout)');
    await hung;
    assert.equal(fifoLength(g), 0);
    for (let i = 0; i < 5000; i++) await g.run('y', async () => i);
    assert.equal(fifoLength(g), 0, 'in-order completions never grow the queue');
  });

  it('no timer keeps the process alive', async () => {
    const guardUrl = new URL('../src/internal/guard.ts', import.meta.url).href;
    const code = `
      const { CallGuard } = await import(${JSON.stringify(guardUrl)});
      const g = new CallGuard('SL_ERR_STORE_UNAVAILABLE', 'child', 60000);
      g.run('hung', () => new Promise(() => {})).catch(() => {});
      g.run('ok', () => Promise.resolve(1)).then(() => console.log('ran'));
    `;
    const t0 = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exit = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(exit, 0);
    assert.equal(out.trim(), 'ran');
    assert.ok(
      Date.now() - t0 < 30_000,
      `the child exited after ${Date.now() - t0} ms, long before its 60 s timeout`,
    );
  });
});
