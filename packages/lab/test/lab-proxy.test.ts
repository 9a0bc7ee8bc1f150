/**
 * `--proxy haproxy`: HAProxy (/usr/sbin/haproxy) with the exported configuration in front of real
 * instances, driven through its runtime API, and `stateline lab` running each config through the
 * built-in gateway and through HAProxy with an instance kill. The shop must be built.
 * nginx the same way, by rewriting its file and reloading it.
 * Without haproxy (or nginx) installed this skips with one line, except under CI=true.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import net from 'node:net';
import { Agent } from 'undici';
import { describe, it } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster } from '../src/cluster.js';
import { HAPROXY_BIN, startHaproxy, type Haproxy } from '../src/haproxy.js';
import { NGINX_BIN, startNginx } from '../src/nginx.js';
import { parseConfigs } from '../src/run/config.js';
import { HttpClient, RESENT, SAFE_ERRORS } from '../src/run/http-client.js';
import { mulberry32 } from '../src/run/prng.js';
import { Recorder } from '../src/run/recorder.js';
import { validateReport } from '../src/run/report-schema.js';
import { runLab } from '../src/run/run-lab.js';
import { alive, CLUSTER_APP } from './support.js';

const SHOP = new URL('../../../apps/shop/dist/server.js', import.meta.url).pathname;
const IN_CI = process.env.CI === 'true' || process.env.CI === '1';
const noHaproxy = !existsSync(HAPROXY_BIN);
if (noHaproxy && !IN_CI)
  console.log(`# SKIP no haproxy at ${HAPROXY_BIN}: the --proxy haproxy tests are skipped`);
const skip = noHaproxy && !IN_CI;
const noNginx = !existsSync(NGINX_BIN);
if (noNginx && !IN_CI) console.log(`# SKIP no nginx at ${NGINX_BIN}: the --proxy nginx test is skipped`);

/** An instance stand-in: `/healthz` 200, anything else answers its name and the proof header. */
async function backend(name: string): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    if (req.url === '/healthz') return void res.end('ok');
    res.end(`${name} ${req.headers['x-stateline-gateway'] ?? '-'}`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port };
}

async function get(url: string): Promise<{ status: number; body: string }> {
  const r = await fetch(url, { headers: { 'x-stateline-gateway': 'forged' } });
  return { status: r.status, body: await r.text() };
}

describe('--proxy haproxy', { skip }, () => {
  it('routes by the runtime API: maint takes an instance out, addr + ready brings it back elsewhere', async () => {
    const [a, b, c] = await Promise.all([backend('a'), backend('b'), backend('c')]);
    const proxy = await startHaproxy({
      balance: 'round-robin',
      instances: [
        { id: 'i1', host: '127.0.0.1', port: a.port },
        { id: 'i2', host: '127.0.0.1', port: b.port },
      ],
      port: 0,
      host: '127.0.0.1',
      maxBodyBytes: 1024,
      proof: { header: 'x-stateline-gateway', value: 'secret1' },
    });
    try {
      const seen = new Set<string>();
      for (let k = 0; k < 6; k++) seen.add((await get(`${proxy.url}/x`)).body);
      // Both instances, each with HAProxy's proof header in place of the client's forged one.
      assert.deepEqual([...seen].sort(), ['a secret1', 'b secret1']);
      await proxy.setState('i2', 'maint');
      for (let k = 0; k < 4; k++) assert.equal((await get(`${proxy.url}/x`)).body, 'a secret1');
      await proxy.setAddress('i2', '127.0.0.1', c.port);
      await proxy.setState('i2', 'ready');
      const after = new Set<string>();
      for (let k = 0; k < 6; k++) after.add((await get(`${proxy.url}/x`)).body);
      assert.deepEqual([...after].sort(), ['a secret1', 'c secret1']);
      await assert.rejects(proxy.setState('i9', 'maint'), { code: 'SL_ERR_PROXY_FAILED' });
    } finally {
      await proxy.close();
      for (const s of [a, b, c]) s.server.close();
    }
    assert.equal(await get(`${proxy.url}/x`).catch(() => null), null, 'HAProxy is gone after close');
  });

  it('a kill waits until HAProxy has the instance in maintenance: it never routes to the dead process', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stateline-proxy-kill-'));
    const cluster = await startCluster({
      app: CLUSTER_APP,
      port: 0,
      instances: 2,
      store: `sqlite:${join(dir, 'state.db')}`,
      proxy: 'haproxy',
      stdio: 'ignore',
    });
    try {
      const proxy = cluster.external as Haproxy;
      // A runtime API as slow as a loaded machine's: the answer comes 300 ms late.
      const setState = proxy.setState.bind(proxy);
      proxy.setState = async (id, state) => {
        await new Promise((r) => setTimeout(r, 300));
        await setState(id, state);
      };
      const { pid } = cluster.supervisor.instance('i1')!;
      const killing = cluster.supervisor.kill('i1');
      await new Promise((r) => setTimeout(r, 150));
      assert.ok(alive(pid!), 'killed before HAProxy took it out');
      await killing;
      assert.ok(!alive(pid!));
      // srv_admin_state 1: forced maintenance, set before the process died.
      const line = (await proxy.command('show servers state stateline_instances'))
        .split('\n')
        .find((l) => l.split(' ')[3] === 'i1');
      assert.equal(line?.split(' ')[6], '1', line);
    } finally {
      await cluster.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a GET whose tries HAProxy spent comes back as a closed connection: the lab client sends it again', async () => {
    // Three instances that reset the first three /flaky requests between them (each as an instance
    // killed with the request in its socket), then answer: HAProxy's three tries (retries 2) all
    // fail, as when an instance dies and the retries meet another failure.
    let resets = 0;
    const servers = await Promise.all(
      [0, 1, 2].map(async () => {
        const server = net.createServer((socket) => {
          socket.on('error', () => {});
          socket.on('data', (chunk: Buffer) => {
            const line = chunk.toString('latin1').split('\r\n')[0]!;
            if (line.startsWith('GET /flaky') && resets++ < 3) return void socket.resetAndDestroy();
            socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}');
          });
        });
        await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
        return { server, port: (server.address() as net.AddressInfo).port };
      }),
    );
    const proxy = await startHaproxy({
      balance: 'round-robin',
      instances: servers.map((x, k) => ({ id: `i${k + 1}`, host: '127.0.0.1', port: x.port })),
      port: 0,
      host: '127.0.0.1',
      maxBodyBytes: 1024,
    });
    const rec = new Recorder();
    const dispatcher = new Agent({ connections: 1 });
    try {
      const http = new HttpClient({ base: proxy.url, dispatcher, random: mulberry32(1), rec });
      assert.equal((await http.request('GET', '/cart'))?.status, 200);
      // The second request of the keep-alive connection: HAProxy closes it without an answer
      // (on a connection's first request it would answer 502), the client sends it again.
      assert.equal((await http.request('GET', '/flaky'))?.status, 200);
      assert.equal(resets, 4, 'three resets, then the second attempt answered');
      assert.equal(rec.counterValues()[RESENT], 1);
      assert.equal(rec.counterValues()[SAFE_ERRORS], undefined);
      assert.equal(rec.errors, 0);
    } finally {
      rec.destroy();
      await dispatcher.close();
      await proxy.close();
      for (const x of servers) x.server.close();
    }
  });

  it('lab --proxy haproxy: each config through both proxies, an instance killed, 0 sessions lost', async () => {
    assert.ok(existsSync(SHOP), `the shop is not built (${SHOP}): run npm run build`);
    const report = await runLab({
      configs: parseConfigs('server/sqlite'),
      durationMs: 6000,
      users: 8,
      instances: 3,
      faults: ['kill'],
      seed: 17,
      app: SHOP,
      proxy: 'haproxy',
      write: false,
    });
    assert.deepEqual(validateReport(JSON.parse(JSON.stringify(report))), []);
    assert.deepEqual(
      report.runs.map((r) => [r.config, r.proxy, r.skipped]),
      [
        ['server/sqlite', 'builtin', null],
        ['server/sqlite', 'haproxy', null],
      ],
    );
    for (const r of report.runs) {
      assert.equal(r.sessionsLost, 0, `${r.proxy}: sessions lost`);
      assert.equal(r.duplicateOrders, 0, `${r.proxy}: duplicate orders`);
      // Safe and keyed requests are retried elsewhere by either proxy: none fails.
      assert.equal(r.counters?.[SAFE_ERRORS] ?? 0, 0, `${r.proxy}: ${JSON.stringify(r.errorsByType)}`);
      assert.ok(r.throughput! > 0 && r.latencyMs!.p99 > 0, `${r.proxy}: throughput and p99 measured`);
      assert.equal(r.faults[0]?.kind, 'kill');
      assert.doesNotMatch(r.faults[0]!.target, /failed/);
    }
  });
});

describe('--proxy nginx', { skip: noNginx && !IN_CI }, () => {
  it('a down server gets no request after the reload, a new address does', async () => {
    const [a, b, c] = await Promise.all([backend('a'), backend('b'), backend('c')]);
    const proxy = await startNginx({
      balance: 'round-robin',
      instances: [
        { id: 'i1', host: '127.0.0.1', port: a.port },
        { id: 'i2', host: '127.0.0.1', port: b.port },
      ],
      port: 0,
      host: '127.0.0.1',
      maxBodyBytes: 1024,
      proof: { header: 'x-stateline-gateway', value: 'secret2' },
    });
    try {
      const seen = new Set<string>();
      for (let k = 0; k < 6; k++) seen.add((await get(`${proxy.url}/x`)).body);
      assert.deepEqual([...seen].sort(), ['a secret2', 'b secret2']);
      await proxy.setState('i2', 'maint');
      // Workers of the old file finish their keep-alive requests; new connections see the new one.
      await new Promise((r) => setTimeout(r, 300));
      for (let k = 0; k < 4; k++) assert.equal((await get(`${proxy.url}/x`)).body, 'a secret2');
      await proxy.setAddress('i2', '127.0.0.1', c.port);
      await proxy.setState('i2', 'ready');
      await new Promise((r) => setTimeout(r, 300));
      const after = new Set<string>();
      for (let k = 0; k < 6; k++) after.add((await get(`${proxy.url}/x`)).body);
      assert.deepEqual([...after].sort(), ['a secret2', 'c secret2']);
    } finally {
      await proxy.close();
      for (const s of [a, b, c]) s.server.close();
    }
  });
});
