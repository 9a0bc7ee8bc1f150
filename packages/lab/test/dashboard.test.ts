/**
 * The cluster dashboard at /_stateline/ and the gateway's own /metrics: the built page and its
 * security headers, the chart's arithmetic, the status fields it draws, the metrics after real
 * traffic, a kill during a request (retries, errors, health transitions), the access rule, and the
 * page in Chromium.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createGateway } from '@stateline/gateway';
import { startCluster, type Cluster } from '../src/cluster.js';
import { authorize, createControl, type ClusterStatus } from '../src/control.js';
import { DASHBOARD_FILE } from '../src/dashboard-page.js';
import { gatewayFront } from '../src/gateway-front.js';
import { createGatewayMetrics } from '../src/gateway-metrics.js';
import { niceMax, rates, type Sample } from '../web/src/rates.js';
import { chromiumSkip, launchChromium } from '../../stateline/test/support/browser.js';
import { CLUSTER_APP, eventually, getJson } from './support.js';

const dir = mkdtempSync(join(tmpdir(), 'lab-dashboard-'));
let cluster: Cluster;

before(async () => {
  cluster = await startCluster({
    app: CLUSTER_APP,
    port: 0,
    instances: 2,
    store: `sqlite:${join(dir, 'state.db')}`,
    stdio: 'ignore',
  });
});
after(async () => {
  await cluster?.close();
  rmSync(dir, { recursive: true, force: true });
});

const status = async () => (await getJson<ClusterStatus>(`${cluster.url}/_stateline/status`)).body;

/** The value of one sample line, e.g. `name{a="1",b="2"} 3`, or undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-z_:]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

/** Sum of every sample of `name` whose labels include `labels`. */
function sum(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-z_:]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) total += Number(m[3]);
  }
  return total;
}

const metrics = async () => {
  const res = await fetch(`${cluster.url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  return res.text();
};

describe('dashboard page', () => {
  it('is served at /_stateline/ (and /_stateline redirects there), self-contained, with a strict CSP', async () => {
    const redirect = await fetch(`${cluster.url}/_stateline?x=1`, { redirect: 'manual' });
    assert.equal(redirect.status, 308);
    assert.equal(redirect.headers.get('location'), '/_stateline/?x=1');

    const res = await fetch(`${cluster.url}/_stateline/`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal(res.headers.get('x-stateline-instance'), null, 'the gateway answers it, no instance');
    const html = await res.text();
    assert.doesNotMatch(html, /\b(src|href)="(?!data:)/, 'nothing is loaded from elsewhere');
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    const script = /<script type="module">([\s\S]*)<\/script>/.exec(html)![1]!;
    const style = /<style>([\s\S]*)<\/style>/.exec(html)![1]!;
    const hash = (s: string) => `'sha256-${createHash('sha256').update(s).digest('base64')}'`;
    assert.ok(csp.includes(`script-src ${hash(script)}`), 'the inline script is allowed by its hash');
    assert.ok(csp.includes(`style-src ${hash(style)}`), 'the inline style is allowed by its hash');
    assert.equal(html, readFileSync(DASHBOARD_FILE, 'utf8'), 'the page Vite built, as built');
    assert.match(script, /\/_stateline\/status/, 'the built module polls the status');
    assert.doesNotMatch(script, /\bimport\b\s*[{(*'"]/, 'one module: it imports nothing');
    const head = await fetch(`${cluster.url}/_stateline/`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
  });

  it('status gives each instance errors, retries and websockets next to served and in-flight', async () => {
    const s = await status();
    assert.equal(s.instances.length, 2);
    for (const i of s.instances) {
      for (const k of ['inflight', 'served', 'errors', 'retries', 'websockets', 'restarts'] as const)
        assert.equal(typeof i[k], 'number', `${i.id}.${k}`);
    }
  });
});

describe('dashboard chart arithmetic (web/src/rates.ts)', () => {
  const at = (t: number, served: Record<string, number>, errors: Record<string, number> = {}): Sample => ({
    t,
    served: new Map(Object.entries(served)),
    errors: new Map(Object.entries(errors)),
  });

  it('rates per second between readings; a counter that went back is a new process', () => {
    const r = rates(
      [
        at(0, { i1: 10, i2: 0 }),
        at(2000, { i1: 30, i2: 4 }, { i2: 2 }),
        at(3000, { i1: 5, i2: 4 }, { i2: 2 }),
      ],
      ['i1', 'i2'],
    );
    assert.deepEqual(r.served.get('i1'), [
      [2000, 10],
      [3000, 5],
    ]);
    assert.deepEqual(r.served.get('i2'), [
      [2000, 2],
      [3000, 0],
    ]);
    assert.deepEqual(r.errors, [
      [2000, 1],
      [3000, 0],
    ]);
  });

  it('an instance named errors is a series of its own; readings at the same time are skipped', () => {
    const r = rates([at(0, { errors: 1 }), at(0, { errors: 2 }), at(1000, { errors: 4 })], ['errors']);
    assert.deepEqual(r.served.get('errors'), [[1000, 2]]);
    assert.deepEqual(r.errors, [[1000, 0]]);
  });

  it('the scale tops out at 1, 2, 2.5 or 5 times a power of ten', () => {
    assert.deepEqual([0, 1, 1.2, 2.2, 37, 250, 251, 999].map(niceMax), [1, 1, 2, 2.5, 50, 250, 500, 1000]);
  });
});

describe('gateway /metrics', () => {
  it('counts proxied requests by instance and status, times them, and has process metrics', async () => {
    const before = await metrics();
    const ok0 = sum(before, 'stateline_gateway_requests_total', { status: '200' });
    const nf0 = sum(before, 'stateline_gateway_requests_total', { status: '404' });
    const n0 = sample(before, 'stateline_gateway_request_duration_seconds_count') ?? 0;
    const served = new Map<string, number>();
    for (let k = 0; k < 6; k++) {
      const r = await fetch(`${cluster.url}/api/whoami`);
      await r.text();
      const id = r.headers.get('x-stateline-instance')!;
      served.set(id, (served.get(id) ?? 0) + 1);
    }
    await (await fetch(`${cluster.url}/no/such/route`)).text();
    await status(); // control requests are not traffic
    const text = await metrics();
    assert.equal(sum(text, 'stateline_gateway_requests_total', { status: '200' }) - ok0, 6);
    assert.equal(sum(text, 'stateline_gateway_requests_total', { status: '404' }) - nf0, 1);
    for (const [id, n] of served) {
      assert.ok(
        (sample(text, 'stateline_gateway_requests_total', { instance: id, status: '200' }) ?? 0) >= n,
        `requests of ${id}`,
      );
    }
    assert.equal(sum(text, 'stateline_gateway_requests_total', { instance: 'gateway' }), 0);
    assert.equal((sample(text, 'stateline_gateway_request_duration_seconds_count') ?? 0) - n0, 7);
    assert.match(text, /^# TYPE stateline_gateway_request_duration_seconds histogram$/m);
    assert.ok((sample(text, 'process_resident_memory_bytes') ?? 0) > 0);
    assert.notEqual(sample(text, 'process_cpu_seconds_total'), undefined);
    for (const id of ['i1', 'i2']) {
      assert.notEqual(sample(text, 'stateline_gateway_retries_total', { instance: id }), undefined);
    }
  });

  it('an instance killed during a request: retry, error and health transition are counted, and stay counted after its restart', async () => {
    // A slow request on each instance; kill whichever has one and watch its request go elsewhere.
    const slow = [0, 1].map(() =>
      fetch(`${cluster.url}/api/work?ms=1500`).then(async (r) => ({
        status: r.status,
        instance: r.headers.get('x-stateline-instance'),
        body: await r.text(),
      })),
    );
    const busy = await eventually(async () => (await status()).instances.find((i) => i.inflight > 0));
    const victim = busy!.id;
    const killed = await getJson<{ instance: ClusterStatus['instances'][number] }>(
      `${cluster.url}/_stateline/instances/${victim}/kill`,
      { method: 'POST' },
    );
    assert.equal(killed.status, 200);
    const answers = await Promise.all(slow);
    for (const a of answers) {
      assert.equal(a.status, 200, a.body);
      assert.notEqual(a.instance, victim, 'the killed instance answered nothing');
    }
    const after = (await status()).instances.find((i) => i.id === victim)!;
    assert.equal(after.state, 'down');
    assert.ok(after.retries >= 1, `retries ${after.retries}`);
    assert.ok(after.errors >= 1, `errors ${after.errors}`);
    let text = await metrics();
    const retried = sample(text, 'stateline_gateway_retries_total', { instance: victim }) ?? 0;
    assert.ok(retried >= 1);
    assert.ok(
      (sample(text, 'stateline_gateway_health_transitions_total', { instance: victim, to: 'down' }) ?? 0) >=
        1,
    );

    const started = await getJson<{ instance: ClusterStatus['instances'][number] }>(
      `${cluster.url}/_stateline/instances/${victim}/start`,
      { method: 'POST' },
    );
    assert.equal(started.status, 200);
    assert.equal(started.body.instance.state, 'up');
    text = await metrics();
    assert.ok(
      (sample(text, 'stateline_gateway_retries_total', { instance: victim }) ?? 0) >= retried,
      'a counter never goes back when the gateway starts counting the new process from 0',
    );
    assert.ok(
      (sample(text, 'stateline_gateway_health_transitions_total', { instance: victim, to: 'up' }) ?? 0) >= 1,
    );
  });
});

describe('access rule', () => {
  it('/metrics and the control API need the admin token when there is one; the page shell does not', async () => {
    const token = 'a-dashboard-admin-token';
    const control = createControl({
      supervisor: cluster.supervisor,
      gatewayInstances: () => cluster.gateway.instances(),
      balance: 'round-robin',
      strategy: 'server',
      store: 'sqlite:x',
      adminToken: token,
    });
    // A gateway of its own with the lab's handlers in front and one of the cluster's instances behind.
    const gw = createGateway({ health: false });
    gw.use(gatewayFront({ metrics: createGatewayMetrics(() => []), adminToken: token })).use(control);
    const i1 = cluster.status().instances.find((i) => i.id === 'i1')!;
    gw.add({ id: 'i1', url: i1.url! });
    const base = `http://127.0.0.1:${(await gw.listen(0)).port}`;
    const auth = { authorization: `Bearer ${token}` };
    try {
      const refused = await getJson<{ code: string }>(`${base}/metrics`);
      assert.equal(refused.status, 401);
      assert.equal(refused.body.code, 'SL_ERR_UNAUTHORIZED');
      const allowed = await fetch(`${base}/metrics`, { headers: auth });
      assert.equal(allowed.status, 200);
      assert.match(await allowed.text(), /stateline_gateway_requests_total/);

      const page = await fetch(`${base}/_stateline/`);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /data-auth="token"/);
      assert.equal((await fetch(`${base}/_stateline/status`)).status, 401, 'the data needs the token');
      assert.equal((await fetch(`${base}/_stateline/status`, { headers: auth })).status, 200);
      const through = await fetch(`${base}/api/whoami`);
      await through.text();
      assert.equal(through.headers.get('x-stateline-instance'), 'i1', 'other paths are proxied');
    } finally {
      await gw.close();
    }
  });

  it('without a token only loopback clients get /metrics and the page', () => {
    let head: [number, Record<string, string>] | undefined;
    const res = {
      writeHead: (s: number, h: Record<string, string>) => (head = [s, h]),
      end: () => undefined,
    } as unknown as ServerResponse;
    const from = (address: string) =>
      ({
        url: '/metrics',
        method: 'GET',
        headers: {},
        socket: { remoteAddress: address },
      }) as unknown as IncomingMessage;
    assert.equal(authorize(from('127.0.0.1'), res, undefined), true);
    assert.equal(head, undefined);
    assert.equal(authorize(from('192.168.1.20'), res, undefined), false);
    assert.equal(head![0], 403);
    const control = createControl({
      supervisor: cluster.supervisor,
      gatewayInstances: () => [],
      balance: 'round-robin',
      strategy: 'server',
      store: 'sqlite:x',
    });
    head = undefined;
    assert.equal(control({ ...from('10.1.2.3'), url: '/_stateline/' } as IncomingMessage, res), true);
    assert.equal(head![0], 403);
  });
});

describe('dashboard in Chromium', () => {
  const skip = chromiumSkip('dashboard browser test');

  it('shows the instances, draws the chart, and its kill and start buttons work', { skip }, async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on('pageerror', (e) => problems.push(e.message));
      page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
      // The lab keeps the last 60 s: a dashboard opened now draws them at its first poll.
      await eventually(
        async () =>
          (await getJson<{ samples: unknown[] }>(`${cluster.url}/_stateline/history`)).body.samples.length >=
          3,
        10_000,
      );
      await page.goto(`${cluster.url}/_stateline/`);
      await page
        .getByTestId('poll-state')
        .filter({ hasText: /^updated/ })
        .waitFor({ timeout: 5000 });
      // One poll alone makes no rate: the lines are the history's (one per instance, one for errors).
      assert.equal(await page.locator('#chart polyline').count(), 3);
      await page.getByTestId('state-i1').filter({ hasText: 'up' }).waitFor({ timeout: 5000 });
      await page.getByTestId('state-i2').filter({ hasText: 'up' }).waitFor({ timeout: 5000 });
      assert.equal(await page.getByTestId('strategy').textContent(), 'server');

      // The instance the shop page of this browser noted last is marked.
      await page.evaluate("localStorage.setItem('stateline.servedBy', 'i2')");
      await page.getByTestId('you-i2').waitFor({ timeout: 5000 });
      assert.equal(await page.getByTestId('you-i1').count(), 0);

      // A kill asks first: declined, nothing happens; accepted, i2 goes down.
      const asked: string[] = [];
      page.once('dialog', (d) => {
        asked.push(d.message());
        void d.dismiss();
      });
      await page.getByTestId('kill-i2').click();
      assert.match(asked[0] ?? '', /^Kill i2 \(SIGKILL\)\?.*It served this browser last\.$/);
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(await page.getByTestId('state-i2').textContent(), 'up', 'declined: not killed');
      page.once('dialog', (d) => void d.accept());
      await page.getByTestId('kill-i2').click();
      await page.getByTestId('state-i2').filter({ hasText: 'down' }).waitFor({ timeout: 5000 });
      assert.match((await page.getByTestId('dash-message').textContent()) ?? '', /i2: kill done/);
      await page.getByTestId('start-i2').click();
      await page.getByTestId('state-i2').filter({ hasText: 'up' }).waitFor({ timeout: 10_000 });
      // Both show on the chart and in the event list.
      await page.getByTestId('event-i2-up').waitFor({ state: 'attached', timeout: 5000 });
      assert.equal(await page.getByTestId('event-i2-down').count(), 1);
      const events = (await page.getByTestId('events').textContent()) ?? '';
      assert.match(events, /i2 restarted \(pid \d+\).*i2 was killed \(SIGKILL\)/s);
      assert.deepEqual(problems, [], 'no script error, no CSP violation');
    } finally {
      await browser.close();
    }
  });
});
