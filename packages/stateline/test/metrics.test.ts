/**
 * `stateline/metrics`: what an app gets from `collectMetrics` after real traffic (node:http with
 * sessions and idempotency, a Store and a Bus, a realtime hub), read back from the Prometheus text;
 * and the missing-peer error when prom-client is not installed.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Registry } from 'prom-client';
import { withIdempotency, withSession } from '../src/adapters/node/index.js';
import { MemoryBus } from '../src/bus/memory-bus.js';
import { StatelineError } from '../src/errors.js';
import { collectMetrics } from '../src/metrics/index.js';
import { createSessions } from '../src/session/index.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { Harness } from './realtime/harness.js';
import { RawClient } from './realtime/raw-client.js';
import { KEY_A } from './session/client.js';
import { eventually } from './support/free-port.js';

const here = new URL('.', import.meta.url).pathname;

/** The value of one sample (`name{labels} value`) in a Prometheus exposition; null when absent. */
function sample(text: string, series: string): number | null {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? null : Number(line.slice(series.length + 1));
}

describe('stateline/metrics', () => {
  const closers: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const c of closers.reverse()) await c();
  });

  it('counts sessions, Store calls, Bus traffic, idempotency and realtime from real traffic', async () => {
    const registry = new Registry();
    const metrics = await collectMetrics({ registry, prefix: 'app_' });
    assert.equal(metrics.registry, registry);
    const store = metrics.store(new MemoryStore());
    const bus = metrics.bus(new MemoryBus({ hub: {} }));
    const sessions = await createSessions({ strategy: 'server', store, bus, keys: [KEY_A] });
    closers.push(() => sessions.close());
    const orders = withIdempotency({ store }, (_req, res) => {
      res.writeHead(201, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
    metrics.watch({ sessions, idempotency: orders });

    const server = http.createServer(
      withSession(sessions, async (req, res) => {
        const url = req.url ?? '/';
        if (url === '/cart') req.session.set('cart', ['p-1']);
        if (url === '/login') await req.session.login('alice');
        if (url === '/logout') await req.session.destroy();
        if (url === '/order') return orders(req, res);
        res.writeHead(200).end(String(req.session.userId));
      }),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise((r) => server.close(r)));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    let cookie = '';
    const call = async (path: string, init: RequestInit = {}, jar = true) => {
      const res = await fetch(base + path, {
        method: 'POST',
        ...init,
        headers: { ...(init.headers as Record<string, string>), ...(jar && cookie ? { cookie } : {}) },
      });
      const set = res.headers.getSetCookie()[0];
      if (jar && set) cookie = set.split(';')[0]!;
      await res.text();
      return res;
    };

    await call('/cart'); // created
    const anonymous = cookie;
    await call('/login'); // renewed
    const order = { headers: { 'idempotency-key': 'k-1', 'content-type': 'application/json' }, body: '{}' };
    assert.equal((await call('/order', order)).status, 201);
    assert.equal((await call('/order', order)).headers.get('idempotent-replayed'), 'true');
    assert.equal((await call('/order', { ...order, body: '{"other":1}' })).status, 422);
    await call('/logout'); // revoked
    await call('/', { headers: { cookie: anonymous } }, false); // ended: its id was replaced by login
    await call('/', { headers: { cookie: 'sl.sid=forged.value.sig' } }, false); // tampered
    const other = await createSessions({ strategy: 'server', store, keys: [KEY_A] });
    closers.push(() => other.close());
    metrics.watch({ sessions: other });
    assert.equal(await other.revokeAll('nobody'), 0);

    const h = new Harness();
    closers.push(() => h.close());
    const { hub, port } = await h.start();
    metrics.watch({ realtime: hub });
    const client = await RawClient.connect(port);
    closers.push(async () => client.close());
    client.send({ type: 'join', room: 'lobby' });
    await client.until(() => client.of('joined').length === 1);
    await hub.publish('lobby', 'hello');
    await client.until(() => client.of('message').length === 1);

    const text = await registry.metrics();
    assert.equal(sample(text, 'app_sessions_created_total'), 1);
    assert.equal(sample(text, 'app_sessions_renewed_total'), 1);
    assert.equal(sample(text, 'app_sessions_revoked_total'), 1);
    assert.equal(sample(text, 'app_sessions_rejected_total{reason="ended"}'), 1);
    assert.equal(sample(text, 'app_sessions_rejected_total{reason="tampered"}'), 1);
    assert.equal(sample(text, 'app_sessions_rejected_total{reason="expired"}'), 0);
    assert.equal(sample(text, 'app_idempotency_replays_total'), 1);
    assert.equal(sample(text, 'app_idempotency_conflicts_total{reason="mismatch"}'), 1);
    assert.equal(sample(text, 'app_idempotency_conflicts_total{reason="in_flight"}'), 0);
    assert.ok(sample(text, 'app_store_operations_total{op="get"}')! >= 6, text);
    assert.ok(sample(text, 'app_store_operations_total{op="create"}')! >= 2, 'a session and an order key');
    assert.ok(sample(text, 'app_store_operation_duration_seconds_count{op="get"}')! >= 6);
    assert.equal(sample(text, 'app_store_errors_total{op="get"}'), null, 'no failed get, no series');
    assert.equal(sample(text, 'app_realtime_sockets'), 1);
    assert.equal(sample(text, 'app_realtime_messages_total'), 1);
    assert.ok(sample(text, 'app_realtime_deliveries_total')! >= 1);
    assert.equal(sample(text, 'app_near_cache_hit_ratio'), 0);

    // The Bus: a publish, and its delivery to a subscriber of this process.
    const got: string[] = [];
    await bus.subscribe('ping', (m) => void got.push(m));
    await bus.publish('ping', 'x');
    await eventually(() => got.length === 1);
    const after = await registry.metrics();
    assert.ok(sample(after, 'app_bus_publishes_total')! >= 1);
    assert.ok(sample(after, 'app_bus_deliveries_total')! >= 1);
    assert.equal(sample(after, 'app_bus_errors_total'), 0);
  });

  it('a failing Store call is counted as an error of its operation', async () => {
    const metrics = await collectMetrics();
    const store = metrics.store(
      new (class extends MemoryStore {
        override get(): never {
          throw new StatelineError('SL_ERR_STORE_UNAVAILABLE', 'test: down');
        }
      })(),
    );
    await assert.rejects(store.get('k'), /test: down/);
    const text = await metrics.registry.metrics();
    assert.equal(sample(text, 'stateline_store_errors_total{op="get"}'), 1);
    assert.equal(sample(text, 'stateline_store_operations_total{op="get"}'), 1);
  });

  it('bad options are SL_ERR_INVALID_OPTION', async () => {
    await assert.rejects(collectMetrics({ prefix: '9bad' }), /not a valid start of a Prometheus metric name/);
    await assert.rejects(
      collectMetrics({ registy: new Registry() } as never),
      (e: unknown) => e instanceof StatelineError && e.code === 'SL_ERR_INVALID_OPTION',
    );
  });

  it('without prom-client installed: SL_ERR_PEER_DEPENDENCY_MISSING naming the package', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        '--import',
        import.meta.resolve('tsx'),
        '--import',
        join(here, 'support/hide-packages.mjs'),
        '--input-type=module',
        '-e',
        `import { collectMetrics } from ${JSON.stringify(join(here, '../src/metrics/index.ts'))};
         try { await collectMetrics(); console.log('loaded'); }
         catch (e) { console.log(JSON.stringify([e.code, e.message])); }`,
      ],
      { env: { ...process.env, HIDE_PACKAGES: 'prom-client' }, timeout: 60_000 },
    );
    const [code, message] = JSON.parse(stdout.trim()) as [string, string];
    assert.equal(code, 'SL_ERR_PEER_DEPENDENCY_MISSING');
    assert.match(
      message,
      /stateline\/metrics needs the package "prom-client": run `npm install prom-client`$/,
    );
  });
});
