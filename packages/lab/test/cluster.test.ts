/**
 * startCluster (what `stateline up` runs): gateway + supervisor + fixtures/cluster-app.ts, and the control API
 * under /_stateline/ (status, kill, stop, start, auth).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startCluster, type Cluster } from '../src/cluster.js';
import { createControl, isLoopback, type ClusterStatus } from '../src/control.js';
import { alive, CLUSTER_APP, getJson } from './support.js';

const dir = mkdtempSync(join(tmpdir(), 'lab-cluster-'));
let cluster: Cluster;
before(async () => {
  cluster = await startCluster({
    app: CLUSTER_APP,
    port: 0,
    instances: 3,
    store: `sqlite:${join(dir, 'state.db')}`,
    stdio: 'inherit',
  });
});
after(async () => {
  await cluster?.close();
  rmSync(dir, { recursive: true, force: true });
});

type Problem = { code: string; status: number; detail: string };
const post = <T>(path: string, headers: Record<string, string> = {}) =>
  getJson<T>(`${cluster.url}${path}`, { method: 'POST', headers });
const status = async () => (await getJson<ClusterStatus>(`${cluster.url}/_stateline/status`)).body;

describe('stateline up cluster', () => {
  it('routes round-robin over i1…i3 and every response names its instance', async () => {
    const seen: string[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await getJson<{ instance: string }>(`${cluster.url}/api/whoami`);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('x-stateline-instance'), r.body.instance);
      seen.push(r.body.instance);
    }
    assert.deepEqual([...new Set(seen)].sort(), ['i1', 'i2', 'i3']);
  });

  it('GET /_stateline/status reports balance, strategy, store and every instance', async () => {
    const s = await status();
    assert.equal(s.balance, 'round-robin');
    assert.equal(s.strategy, 'server');
    assert.equal(s.store, `sqlite:${join(dir, 'state.db')}`);
    assert.deepEqual(
      s.instances.map((i) => [i.id, i.state]),
      [
        ['i1', 'up'],
        ['i2', 'up'],
        ['i3', 'up'],
      ],
    );
    for (const i of s.instances) {
      assert.ok(typeof i.pid === 'number' && alive(i.pid));
      assert.equal(typeof i.inflight, 'number');
      assert.ok(i.served >= 1, 'the requests above were counted');
    }
  });

  it('kill, start and stop instances through the control API; unknown ones are 404 problems', async () => {
    const before = (await status()).instances.find((i) => i.id === 'i2')!;
    const killed = await post<{ instance: ClusterStatus['instances'][number] }>(
      '/_stateline/instances/i2/kill',
    );
    assert.equal(killed.status, 200);
    assert.equal(killed.body.instance.state, 'down');
    assert.ok(!alive(before.pid!));
    for (let i = 0; i < 6; i++) {
      const r = await getJson<{ instance: string }>(`${cluster.url}/api/whoami`);
      assert.equal(r.status, 200);
      assert.notEqual(r.body.instance, 'i2', 'nothing goes to a killed instance');
    }

    const started = await post<{ instance: ClusterStatus['instances'][number] }>(
      '/_stateline/instances/i2/start',
    );
    assert.equal(started.status, 200);
    assert.equal(started.body.instance.state, 'up');
    assert.equal(started.body.instance.restarts, 1);
    assert.notEqual(started.body.instance.pid, before.pid);

    const stopped = await post<{ instance: ClusterStatus['instances'][number] }>(
      '/_stateline/instances/i3/stop',
    );
    assert.equal(stopped.body.instance.state, 'down');
    assert.equal((await status()).instances.find((i) => i.id === 'i3')!.pid, null);
    assert.equal((await post('/_stateline/instances/i3/start')).status, 200);

    const unknown = await post<Problem>('/_stateline/instances/i9/kill');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.headers.get('content-type'), 'application/problem+json');
    assert.equal(unknown.body.code, 'SL_ERR_NOT_FOUND');
    assert.equal((await post<Problem>('/_stateline/instances/i1/explode')).body.code, 'SL_ERR_NOT_FOUND');
    assert.equal(
      (await getJson<Problem>(`${cluster.url}/_stateline/instances/i1/kill`)).status,
      404,
      'GET changes nothing',
    );
    assert.deepEqual(
      (await status()).instances.map((i) => i.state),
      ['up', 'up', 'up'],
    );
  });

  it('with an admin token: 401 problem without or with a wrong token, 200 with the right one', async () => {
    const token = 'an-admin-token-long-enough';
    const hook = createControl({
      supervisor: cluster.supervisor,
      gatewayInstances: () => cluster.gateway.instances(),
      balance: 'round-robin',
      strategy: 'server',
      store: 'sqlite:x',
      adminToken: token,
    });
    const server = http.createServer((req, res) => {
      if (!hook(req, res)) res.end('proxied');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const none = await getJson<Problem>(`${base}/_stateline/status`);
      assert.equal(none.status, 401);
      assert.equal(none.headers.get('content-type'), 'application/problem+json');
      assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
      assert.equal(none.body.code, 'SL_ERR_UNAUTHORIZED');
      const wrong = await getJson<Problem>(`${base}/_stateline/instances/i1/kill`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}x` },
      });
      assert.equal(wrong.status, 401);
      assert.ok(alive(cluster.status().instances[0]!.pid!), 'a refused kill kills nothing');
      const ok = await getJson<ClusterStatus>(`${base}/_stateline/status`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(ok.status, 200);
      assert.equal(ok.body.instances.length, 3);
      assert.equal(
        await (await fetch(`${base}/api/whoami`)).text(),
        'proxied',
        'other paths are not the control API',
      );
    } finally {
      server.close();
    }
  });

  it('without a token only loopback clients may use the control API (403 problem otherwise)', () => {
    assert.ok(isLoopback('127.0.0.1') && isLoopback('::1') && isLoopback('::ffff:127.0.0.9'));
    assert.ok(!isLoopback('10.0.0.5') && !isLoopback('::ffff:192.168.1.2') && !isLoopback(undefined));
    const hook = createControl({
      supervisor: cluster.supervisor,
      gatewayInstances: () => [],
      balance: 'round-robin',
      strategy: 'server',
      store: 'sqlite:x',
    });
    let head: [number, Record<string, string>] | undefined;
    let body = '';
    const res = {
      writeHead: (s: number, h: Record<string, string>) => (head = [s, h]),
      end: (b: string) => (body = b),
    } as unknown as ServerResponse;
    const req = {
      url: '/_stateline/instances/i1/kill',
      method: 'POST',
      headers: {},
      socket: { remoteAddress: '10.0.0.5' },
    } as unknown as IncomingMessage;
    assert.equal(hook(req, res), true);
    assert.equal(head![0], 403);
    assert.equal(head![1]['content-type'], 'application/problem+json');
    assert.equal((JSON.parse(body) as Problem).code, 'SL_ERR_FORBIDDEN');
    assert.equal(hook({ ...req, url: '/api/whoami' } as IncomingMessage, res), false);
  });
});
