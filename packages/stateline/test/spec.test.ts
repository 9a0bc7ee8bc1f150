import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isStatelineError } from '../src/errors.js';
import { storeOptionsFromSpec, createStore } from '../src/store/index.js';
import { busOptionsFromSpec, createBus } from '../src/bus/index.js';
import { createLog, logOptionsFromSpec } from '../src/log/index.js';
import { parseDuration } from '../src/internal/duration.js';
import { natsServers, subjectToken } from '../src/internal/nats-connect.js';

describe('backend specs', () => {
  it('parses every store scheme', () => {
    assert.deepEqual(storeOptionsFromSpec('memory:'), { type: 'memory' });
    assert.deepEqual(storeOptionsFromSpec('sqlite:.stateline/state.db'), {
      type: 'sqlite',
      path: '.stateline/state.db',
    });
    assert.deepEqual(storeOptionsFromSpec('sqlite:///tmp/x.db'), { type: 'sqlite', path: '/tmp/x.db' });
    assert.deepEqual(storeOptionsFromSpec('redis://127.0.0.1:6379/2?prefix=app:&timeout=500'), {
      type: 'redis',
      url: 'redis://127.0.0.1:6379/2',
      prefix: 'app:',
      timeout: 500,
    });
    assert.deepEqual(storeOptionsFromSpec('redis://u:p@h1:7000,h2:7001'), {
      type: 'redis-cluster',
      nodes: ['redis://u:p@h1:7000', 'redis://u:p@h2:7001'],
    });
    assert.deepEqual(storeOptionsFromSpec('redis-cluster://h1:7000'), {
      type: 'redis-cluster',
      nodes: ['redis://h1:7000'],
    });
    assert.deepEqual(storeOptionsFromSpec('postgres://u@h:5432/db?sslmode=disable&poolSize=3'), {
      type: 'postgres',
      url: 'postgres://u@h:5432/db?sslmode=disable',
      poolSize: 3,
    });
    assert.deepEqual(busOptionsFromSpec('ipc:'), { type: 'ipc' });
    assert.deepEqual(logOptionsFromSpec('postgresql://h/db'), { type: 'postgres', url: 'postgresql://h/db' });
  });

  it('a Redis Cluster spec opens a Bus and a Log as well as a Store', () => {
    const nodes = ['redis://h1:7000', 'redis://h2:7001'];
    const want = { type: 'redis-cluster', nodes, prefix: 'shop:', timeout: 500 };
    assert.deepEqual(busOptionsFromSpec('redis-cluster://h1:7000,h2:7001?prefix=shop:&timeout=500'), want);
    assert.deepEqual(logOptionsFromSpec('redis-cluster://h1:7000,h2:7001?prefix=shop:&timeout=500'), want);
    assert.deepEqual(busOptionsFromSpec('redis://h1:7000,h2:7001'), { type: 'redis-cluster', nodes });
    assert.deepEqual(logOptionsFromSpec('redis://h1:7000,h2:7001'), { type: 'redis-cluster', nodes });
  });

  it("a redis+sentinel spec names the sentinels, the master and the data nodes' credentials", async () => {
    const sentinels = ['10.0.0.1:26379', '10.0.0.2:26380'];
    const want = { type: 'redis-sentinel', sentinels, name: 'shop', prefix: 'app:', timeout: 700 };
    const spec = 'redis+sentinel://10.0.0.1,10.0.0.2:26380/shop?prefix=app:&timeout=700';
    assert.deepEqual(storeOptionsFromSpec(spec), want);
    assert.deepEqual(busOptionsFromSpec(spec), want);
    assert.deepEqual(logOptionsFromSpec(spec), want);
    assert.deepEqual(storeOptionsFromSpec('redis+sentinel://u:p%40ss@h:5000/m'), {
      type: 'redis-sentinel',
      sentinels: ['h:5000'],
      name: 'm',
      username: 'u',
      password: 'p@ss',
    });
    const bad = (spec: string, code: string, re: RegExp) =>
      assert.throws(
        () => storeOptionsFromSpec(spec),
        (e) => isStatelineError(e) && e.code === code && re.test(e.message),
        spec,
      );
    bad('redis+sentinel://h:26379', 'SL_ERR_INVALID_SPEC', /mastername/);
    bad('redis+sentinel://h:26379/m?db=2', 'SL_ERR_INVALID_SPEC', /no query option "db"/);
    await assert.rejects(
      createStore({ type: 'redis-sentinel', sentinels: ['no-port'], name: 'm' }),
      (e) => isStatelineError(e, 'SL_ERR_INVALID_OPTION') && /host:port/.test(e.message),
    );
  });

  it('refuses bad specs and options with stable codes', async () => {
    const bad = (fn: () => unknown, code: string) =>
      assert.throws(fn, (e) => isStatelineError(e) && e.code === code, String(fn));
    bad(() => storeOptionsFromSpec('nonsense'), 'SL_ERR_INVALID_SPEC');
    bad(() => storeOptionsFromSpec('mongodb://x'), 'SL_ERR_INVALID_SPEC');
    bad(() => storeOptionsFromSpec('ipc:'), 'SL_ERR_INVALID_SPEC');
    bad(() => storeOptionsFromSpec('sqlite:'), 'SL_ERR_INVALID_SPEC');
    bad(() => busOptionsFromSpec('sqlite:x.db'), 'SL_ERR_INVALID_SPEC');
    bad(() => storeOptionsFromSpec('redis://h:1?timeout=-3'), 'SL_ERR_INVALID_OPTION');
    await assert.rejects(createStore({ type: 'memory', colour: 'red' } as never), (e) =>
      isStatelineError(e, 'SL_ERR_INVALID_OPTION'),
    );
    await assert.rejects(createStore({ type: 'memory', timeout: 0 }), (e) =>
      isStatelineError(e, 'SL_ERR_INVALID_OPTION'),
    );
    // Every family checks its options the same way before opening anything.
    const badTimeout = (e: unknown) =>
      isStatelineError(e, 'SL_ERR_INVALID_OPTION') && /timeout/.test(e.message);
    await assert.rejects(createStore({ type: 'memory', timeout: Number.NaN }), badTimeout);
    await assert.rejects(createBus({ type: 'memory', timeout: -1 }), badTimeout);
    await assert.rejects(createLog({ type: 'memory', timeout: 0 }), badTimeout);
    await assert.rejects(
      createBus({ type: 'sqlite' } as never),
      (e) =>
        isStatelineError(e, 'SL_ERR_INVALID_SPEC') &&
        /bus type must be one of memory, ipc, redis, redis-cluster, redis-sentinel, postgres/.test(e.message),
    );
    await assert.rejects(
      createLog({ type: 'memory', hub: {} } as never),
      (e) => isStatelineError(e, 'SL_ERR_INVALID_OPTION') && /memory log has no option "hub"/.test(e.message),
    );
  });

  it('parses nats specs for the Bus and the Log, and makes subject tokens that cannot cross', () => {
    assert.deepEqual(busOptionsFromSpec('nats://h1:4222,h2:4222?prefix=app:&timeout=300'), {
      type: 'nats',
      url: 'nats://h1:4222,h2:4222',
      prefix: 'app:',
      timeout: 300,
    });
    assert.deepEqual(logOptionsFromSpec('nats://127.0.0.1:4222'), {
      type: 'nats',
      url: 'nats://127.0.0.1:4222',
    });
    assert.throws(
      () => storeOptionsFromSpec('nats://127.0.0.1:4222'),
      (e) => isStatelineError(e, 'SL_ERR_INVALID_SPEC') && /store has no "nats" backend/.test(e.message),
    );
    assert.throws(
      () => busOptionsFromSpec('nats://h:4222?noEcho=1'),
      (e) => isStatelineError(e, 'SL_ERR_INVALID_SPEC'),
    );
    assert.deepEqual(natsServers('nats://u:p@h1:1,h2:2', 'x'), ['nats://u:p@h1:1', 'nats://u:p@h2:2']);
    assert.throws(
      () => natsServers('nats://h:1?x=1', 'x'),
      (e) => isStatelineError(e, 'SL_ERR_INVALID_OPTION'),
    );
    const names = ['a.b', 'a~2eb', 'a b', '*', '>', '', '~', 'é', 'room:lobby', 'a..b'];
    const tokens = names.map(subjectToken);
    assert.equal(new Set(tokens).size, names.length, 'injective');
    for (const t of tokens) assert.match(t, /^[A-Za-z0-9_:~-]+$/);
    assert.equal(subjectToken('room:lobby'), 'room:lobby');
  });

  it('parses durations', () => {
    assert.equal(parseDuration('30m', 'idle'), 1_800_000);
    assert.equal(parseDuration('250ms', 'x'), 250);
    assert.equal(parseDuration('1.5s', 'x'), 1500);
    assert.equal(parseDuration(42, 'x'), 42);
    assert.throws(
      () => parseDuration('soon', 'idle'),
      (e) => isStatelineError(e, 'SL_ERR_INVALID_OPTION') && /idle/.test(e.message),
    );
  });
});
