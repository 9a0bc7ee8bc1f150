/**
 * Fault injection for every Redis backend: the server is SIGKILLed (and, separately, frozen with
 * SIGSTOP) while in use. Calls must fail fast with the backend's _UNAVAILABLE code, never hang past
 * `timeout`, never crash the process, and the SAME objects must work again once the server is back.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { isStatelineError, type ErrorCode } from '../../src/errors.js';
import { createBus } from '../../src/bus/index.js';
import { createLog } from '../../src/log/index.js';
import { createStore } from '../../src/store/index.js';
import { eventually, freePort, sleep } from '../support/free-port.js';
import { TestRedis } from '../support/redis-server.js';
import { IN_CI, uniquePrefix } from '../support/services.js';

const TIMEOUT = 500;
/** Scheduling slack on a shared 2-core machine. */
const SLACK = 300;

function binaryMissing(): string | false {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return false;
  } catch {
    if (IN_CI) throw new Error('CI=true but redis-server is not installed: the redis fault tests cannot run');
    const line = 'redis-server is not installed: skipping the redis fault tests';
    process.stdout.write(`# SKIP ${line}\n`);
    return line;
  }
}

const unhandled: unknown[] = [];
const onUnhandled = (err: unknown) => unhandled.push(err);

/** While the connection is known to be down a call must not wait for the timeout at all. */
const DOWN_LIMIT = 150;

/** Runs `call`, asserting it rejects with `code` and settles within `limit` ms. */
async function failsFast(
  what: string,
  code: ErrorCode,
  call: () => Promise<unknown>,
  limit = DOWN_LIMIT,
): Promise<number> {
  const t0 = performance.now();
  await assert.rejects(call(), (err) => isStatelineError(err, code), `${what} rejects with ${code}`);
  const took = performance.now() - t0;
  assert.ok(took <= limit, `${what} settled in ${took.toFixed(0)} ms (limit ${limit})`);
  return took;
}

describe(
  'redis backends survive a server crash [redis-fault]',
  { skip: binaryMissing() || undefined },
  () => {
    let server: TestRedis;
    before(async () => {
      process.on('unhandledRejection', onUnhandled);
      process.on('uncaughtException', onUnhandled);
      server = await TestRedis.start();
    });
    after(async () => {
      await server?.stop();
      process.off('unhandledRejection', onUnhandled);
      process.off('uncaughtException', onUnhandled);
    });

    it('[redis-fault] the store fails fast while the server is dead and the same object recovers', async () => {
      const store = await createStore({
        type: 'redis',
        url: server.url,
        timeout: TIMEOUT,
        prefix: uniquePrefix('fault-store'),
      });
      try {
        await store.create('counter', '0');
        // Load in flight when the server dies: every call must settle within the timeout.
        let running = true;
        const slowest: number[] = [];
        const codes = new Set<string>();
        const worker = async () => {
          let worst = 0;
          while (running) {
            const t0 = performance.now();
            try {
              const rec = await store.get('counter');
              if (rec)
                await store.update('counter', String(Number(rec.value) + 1), { ifVersion: rec.version });
            } catch (err) {
              codes.add(isStatelineError(err) ? err.code : String(err));
              await sleep(5);
            }
            worst = Math.max(worst, performance.now() - t0);
          }
          slowest.push(worst);
        };
        const workers = Array.from({ length: 20 }, worker);
        await sleep(150);
        await server.kill();
        await sleep(TIMEOUT + 200);
        running = false;
        await Promise.all(workers);
        assert.deepEqual([...codes], ['SL_ERR_STORE_UNAVAILABLE']);
        assert.ok(
          Math.max(...slowest) <= 2 * TIMEOUT + SLACK,
          `slowest get+update pair ${Math.max(...slowest).toFixed(0)} ms`,
        );

        const code = 'SL_ERR_STORE_UNAVAILABLE';
        await failsFast('get', code, () => store.get('counter'));
        await failsFast('create', code, () => store.create('x', 'y'));
        await failsFast('update', code, () => store.update('counter', 'z', { ifVersion: 1 }));
        await failsFast('touch', code, () => store.touch('counter', 1000));
        await failsFast('delete', code, () => store.delete('counter'));
        await failsFast('indexAdd', code, () => store.indexAdd('o', 'm', null));
        await failsFast('indexMembers', code, () => store.indexMembers('o'));
        await failsFast('indexRemove', code, () => store.indexRemove('o', 'm'));

        await server.startProcess();
        // The restarted server has no data: the record is gone, and the store works again by itself.
        await eventually(async () => (await store.get('counter')) === null, 10_000, 50);
        assert.deepEqual(await store.create('counter', 'again'), { ok: true, version: 1 });
        assert.deepEqual(await store.update('counter', 'v2', { ifVersion: 1 }), { ok: true, version: 2 });
        await store.indexAdd('o', 'm', null);
        assert.deepEqual(await store.indexMembers('o'), [{ member: 'm', expiresAt: null }]);
      } finally {
        await store.close();
      }
    });

    it('[redis-fault] the bus reports the loss, refuses publish fast, and re-subscribes by itself', async () => {
      const prefix = uniquePrefix('fault-bus');
      const sub = await createBus({ type: 'redis', url: server.url, timeout: TIMEOUT, prefix });
      const pub = await createBus({ type: 'redis', url: server.url, timeout: TIMEOUT, prefix });
      try {
        const states: boolean[] = [];
        sub.onConnectionChange((up) => states.push(up));
        const got: string[] = [];
        await sub.subscribe('news', (m) => got.push(m));
        await pub.publish('news', 'before');
        await eventually(() => got.includes('before'), 3000);

        await server.kill();
        await eventually(() => states.length > 0, 3000);
        assert.deepEqual(states, [false]);
        await failsFast('publish', 'SL_ERR_BUS_UNAVAILABLE', () => pub.publish('news', 'lost'));
        await failsFast('subscribe', 'SL_ERR_BUS_UNAVAILABLE', () => sub.subscribe('other', () => {}));

        await server.startProcess();
        await eventually(() => states.at(-1) === true, 10_000, 50);
        assert.deepEqual(states, [false, true], 'false on loss, then true once back and re-subscribed');
        // The publisher has its own connection, which may come back a moment later.
        await eventually(
          async () => {
            await pub.publish('news', 'after');
            return got.includes('after');
          },
          10_000,
          100,
        );
        assert.ok(!got.includes('lost'));
      } finally {
        await sub.close();
        await pub.close();
      }
    });

    it('[redis-fault] the log fails fast while down and starts a new epoch after the server lost its data', async () => {
      const log = await createLog({
        type: 'redis',
        url: server.url,
        timeout: TIMEOUT,
        prefix: uniquePrefix('fault-log'),
      });
      try {
        await log.append('room', 'a');
        const before = await log.append('room', 'b');
        assert.equal(before.offset, 2);
        await server.kill();
        await sleep(100);
        await failsFast('append', 'SL_ERR_LOG_UNAVAILABLE', () => log.append('room', 'c'));
        await failsFast('read', 'SL_ERR_LOG_UNAVAILABLE', () => log.read('room', 0));
        await server.startProcess();
        const after = await eventually(() => log.append('room', 'd'), 10_000, 50);
        assert.notEqual(after.epoch, before.epoch, 'the restarted server lost the history: a new epoch');
        assert.equal(after.offset, 1);
        const read = await log.read('room', 2, { epoch: before.epoch });
        assert.equal(read.complete, false);
        assert.deepEqual(
          read.entries.map((e) => e.data),
          ['d'],
        );
      } finally {
        await log.close();
      }
    });

    it('[redis-fault] a frozen server (SIGSTOP) makes calls time out at `timeout`, and they work after SIGCONT', async () => {
      const port = await freePort();
      const proc = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
        { stdio: 'ignore' },
      );
      const url = `redis://127.0.0.1:${port}`;
      try {
        const store = await eventually(
          () => createStore({ type: 'redis', url, timeout: TIMEOUT, prefix: uniquePrefix('fault-frozen') }),
          5000,
          50,
        );
        const log = await createLog({ type: 'redis', url, timeout: TIMEOUT });
        try {
          await store.create('k', 'v');
          proc.kill('SIGSTOP');
          const limit = TIMEOUT + SLACK;
          const took = [
            await failsFast('get (frozen)', 'SL_ERR_STORE_UNAVAILABLE', () => store.get('k'), limit),
            await failsFast(
              'update (frozen)',
              'SL_ERR_STORE_UNAVAILABLE',
              () => store.update('k', 'w'),
              limit,
            ),
            await failsFast('append (frozen)', 'SL_ERR_LOG_UNAVAILABLE', () => log.append('s', 'x'), limit),
          ];
          assert.ok(
            Math.min(...took) >= TIMEOUT - 50,
            `a frozen server is detected by the timeout (${took.map((t) => t.toFixed(0)).join(', ')} ms)`,
          );
          proc.kill('SIGCONT');
          await eventually(async () => (await store.get('k'))?.value === 'w', 5000, 50);
          assert.equal(
            (await store.get('k'))?.version,
            2,
            'the update that timed out was still applied once: the reply was late, not lost',
          );
          assert.deepEqual(await store.update('k', 'z', { ifVersion: 2 }), { ok: true, version: 3 });
        } finally {
          await store.close();
          await log.close();
        }
      } finally {
        proc.kill('SIGCONT');
        proc.kill('SIGKILL');
      }
    });

    it('[redis-fault] nothing went unhandled', () => {
      assert.deepEqual(unhandled, []);
    });
  },
);
