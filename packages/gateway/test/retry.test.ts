import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createGateway, type Gateway } from '../src/index.js';
import { startBackends, type Backend } from './support/backend.js';
import { Client, FAST_HEALTH, sleep, waitFor } from './support/client.js';

/**
 * A gateway whose health checks are too slow to notice anything during a test, so every failure
 * here reaches the proxy path; `first` is always tried first (round-robin from the top).
 */
async function setup(): Promise<{ gw: Gateway; base: string; backends: Backend[]; c: Client }> {
  const backends = await startBackends(2);
  const gw = createGateway({
    balance: 'round-robin',
    health: { ...FAST_HEALTH, interval: 60_000, fall: 100 },
  });
  for (const b of backends) gw.add({ id: b.id, url: b.url });
  const { port } = await gw.listen(0);
  await waitFor(() => gw.instances().every((i) => i.state === 'up'));
  const base = `http://127.0.0.1:${port}`;
  return { gw, base, backends, c: new Client(base) };
}

/** Requests each backend saw for `path`. */
function seenAt(backends: Backend[], path: string): string[] {
  return backends.flatMap((b) => b.hits.filter((s) => s.url === path).map(() => b.id));
}

describe('retries', () => {
  let gw: Gateway;
  let backends: Backend[];
  let c: Client;
  before(async () => {
    ({ gw, backends, c } = await setup());
  });
  after(async () => {
    await c.close();
    await gw.close();
    await Promise.all(backends.map((b) => b.kill().catch(() => {})));
  });

  test('a GET after a reset is retried on another instance', async () => {
    const replies = await Promise.all([c.send('/reset'), c.send('/reset')]);
    // Both instances reset: each request tried both, then failed.
    assert.deepEqual(
      replies.map((r) => r.status),
      [502, 502],
    );
    const doc = JSON.parse(replies[0]!.body);
    assert.equal(doc.code, 'SL_ERR_UPSTREAM_FAILED');
    assert.equal(seenAt(backends, '/reset').length, 4, 'each GET went to both instances');
  });

  test('a plain POST after a reset is not retried: 502 problem, one instance saw it', async () => {
    const before = seenAt(backends, '/reset').length;
    const r = await c.send('/reset', { method: 'POST', body: 'order=1' });
    assert.equal(r.status, 502);
    assert.equal(r.headers['content-type'], 'application/problem+json');
    const doc = JSON.parse(r.body);
    assert.equal(doc.code, 'SL_ERR_UPSTREAM_FAILED');
    assert.match(doc.detail, /not retried/);
    assert.equal(seenAt(backends, '/reset').length - before, 1);
  });

  test('a POST with an Idempotency-Key after a reset is retried', async () => {
    const before = seenAt(backends, '/reset').length;
    const r = await c.send('/reset', {
      method: 'POST',
      body: 'order=1',
      headers: { 'idempotency-key': 'k-1' },
    });
    assert.equal(r.status, 502);
    assert.equal(seenAt(backends, '/reset').length - before, 2, 'sent to both instances');
    const bodies = backends.flatMap((b) =>
      b.hits.filter((s) => s.url === '/reset' && s.method === 'POST').map((s) => s.bodyBytes),
    );
    assert.ok(
      bodies.every((n) => n === 7),
      'the buffered body was replayed whole',
    );
  });

  test('GET on 503 goes to the other instance; POST on 503 gets the 503 as is', async () => {
    backends[0]!.answer = 503;
    try {
      const gets = [await c.send('/x503'), await c.send('/x503')];
      assert.deepEqual(
        gets.map((r) => [r.status, r.instance]),
        [
          [200, 'b2'],
          [200, 'b2'],
        ],
      );
      assert.deepEqual(
        seenAt(backends, '/x503'),
        ['b1', 'b1', 'b2', 'b2'],
        'b1 answered each GET with 503, which went on to b2',
      );
      const posts = [await c.send('/p503', { method: 'POST' }), await c.send('/p503', { method: 'POST' })];
      assert.deepEqual(posts.map((r) => r.status).sort(), [200, 503]);
      assert.equal(posts.find((r) => r.status === 503)!.body, 'b1:503', "b1's own 503 came through");
      assert.equal(seenAt(backends, '/p503').length, 2, 'no POST was sent twice');
      // When every instance answers 503, the last 503 comes through unchanged.
      backends[1]!.answer = 503;
      const all = await c.send('/all503');
      assert.equal(all.status, 503);
      assert.match(all.body, /^b\d:503$/);
    } finally {
      backends[0]!.answer = undefined;
      backends[1]!.answer = undefined;
    }
  });

  test('never once response bytes reached the client', async () => {
    const before = seenAt(backends, '/partial').length;
    await assert.rejects(c.send('/partial'), 'the client sees a cut response, not a retried one');
    assert.equal(seenAt(backends, '/partial').length - before, 1);
  });
});

describe('retries on a dead instance', () => {
  test('GET and Idempotency-Key POST go to the live instance; a plain POST too when nothing was sent', async () => {
    const { gw, backends, c } = await setup();
    try {
      await backends[0]!.kill();
      for (const init of [
        { method: 'GET' },
        { method: 'POST', body: 'a=1', headers: { 'idempotency-key': 'k-2' } },
        // The connection was refused: the instance never saw the request, so any method is safe.
        { method: 'POST', body: 'a=1' },
      ]) {
        for (let k = 0; k < 4; k++) {
          const r = await c.send('/', init);
          assert.equal(r.status, 200, `${init.method} ${JSON.stringify(init.headers ?? {})}`);
          assert.equal(r.instance, 'b2');
        }
      }
      const b1 = gw.instances().find((i) => i.id === 'b1')!;
      assert.ok(b1.retries >= 6, `b1 retries ${b1.retries}`);
      assert.equal(b1.served, 0);
    } finally {
      await c.close();
      await gw.close();
      await backends[1]!.kill();
    }
  });

  test('under load, killing an instance is invisible to GET and Idempotency-Key POST clients', async () => {
    const backends = await startBackends(3);
    const gw = createGateway({ balance: 'round-robin', health: FAST_HEALTH });
    for (const b of backends) gw.add({ id: b.id, url: b.url });
    const { port } = await gw.listen(0);
    const c = new Client(`http://127.0.0.1:${port}`);
    try {
      await waitFor(() => gw.instances().every((i) => i.state === 'up'));
      const statuses = new Map<number, number>();
      let stop = false;
      let killed = false;
      let afterKill = 0;
      let n = 0;
      const worker = async (k: number) => {
        while (!stop) {
          const init =
            k % 2 === 0
              ? { method: 'GET' }
              : { method: 'POST', body: 'x', headers: { 'idempotency-key': `w${k}-${n++}` } };
          const r = await c.send('/slow?ms=5', init);
          statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
          if (killed) afterKill++;
        }
      };
      const running = Promise.all(Array.from({ length: 10 }, (_, k) => worker(k)));
      await sleep(300);
      await backends[1]!.kill();
      killed = true;
      await sleep(700);
      stop = true;
      await running;
      assert.deepEqual([...statuses.keys()], [200], JSON.stringify([...statuses]));
      assert.equal(gw.instances().find((i) => i.id === 'b2')!.state, 'down');
      // Enough traffic on both sides of the kill to have hit the dead instance (a loaded machine runs fewer).
      assert.ok(afterKill >= 20, `only ${afterKill} requests after the kill`);
    } finally {
      await c.close();
      await gw.close();
      await Promise.all(backends.map((b) => b.kill().catch(() => {})));
    }
  });

  test('a retry that lands after its instance was removed still counts for that id, and after a re-add', async () => {
    // A supervisor removes a killed process when it sees the exit, which may come before the
    // gateway sees the connection reset and retries: the retry must not fall into a forgotten object.
    const { gw, backends, c } = await setup();
    try {
      const slow = c.send('/slow?ms=3000');
      await waitFor(() => gw.instances().find((i) => i.id === 'b1')!.inflight === 1);
      gw.remove('b1');
      await backends[0]!.kill();
      const r = await slow;
      assert.equal(r.status, 200);
      assert.equal(r.instance, 'b2');
      const b1 = gw.counts('b1');
      assert.equal(b1?.retries, 1, JSON.stringify(b1));
      assert.ok(b1!.errors >= 1, JSON.stringify(b1));
      assert.equal(gw.counts('b2')?.served, 1);
      assert.equal(gw.counts('nope'), undefined);
      const [again] = await startBackends(1);
      try {
        gw.add({ id: 'b1', url: again!.url });
        const listed = gw.instances().find((i) => i.id === 'b1')!;
        assert.deepEqual([listed.served, listed.retries], [0, 1], 'the new process adds to the id');
      } finally {
        await again!.kill();
      }
    } finally {
      await c.close();
      await gw.close();
      await backends[1]!.kill();
    }
  });

  test('a body larger than retry.maxBodyBytes streams and is not retried', async () => {
    const backends = await startBackends(2);
    const gw = createGateway({ health: { ...FAST_HEALTH, interval: 60_000 }, retry: { maxBodyBytes: 1024 } });
    for (const b of backends) gw.add({ id: b.id, url: b.url });
    const { port } = await gw.listen(0);
    const c = new Client(`http://127.0.0.1:${port}`);
    try {
      await waitFor(() => gw.instances().every((i) => i.state === 'up'));
      const big = Buffer.alloc(200_000, 7);
      const ok = await c.send('/', { method: 'PUT', body: big });
      assert.equal(ok.status, 200);
      assert.equal(ok.headers['x-body-bytes'], '200000', 'streamed through whole');
      const reset = await c.send('/reset', { method: 'PUT', body: big });
      assert.equal(reset.status, 502);
      assert.equal(seenAt(backends, '/reset').length, 1, 'a streamed body cannot be replayed');
      const small = await c.send('/reset', { method: 'PUT', body: Buffer.alloc(1000, 1) });
      assert.equal(small.status, 502);
      assert.equal(seenAt(backends, '/reset').length, 3, 'a buffered PUT is retried');
    } finally {
      await c.close();
      await gw.close();
      await Promise.all(backends.map((b) => b.kill()));
    }
  });

  test('retry.attempts: 0 turns retries off', async () => {
    const backends = await startBackends(2);
    const gw = createGateway({ health: { ...FAST_HEALTH, interval: 60_000 }, retry: { attempts: 0 } });
    for (const b of backends) gw.add({ id: b.id, url: b.url });
    const { port } = await gw.listen(0);
    const c = new Client(`http://127.0.0.1:${port}`);
    try {
      await waitFor(() => gw.instances().every((i) => i.state === 'up'));
      const r = await c.send('/reset');
      assert.equal(r.status, 502);
      assert.equal(seenAt(backends, '/reset').length, 1);
    } finally {
      await c.close();
      await gw.close();
      await Promise.all(backends.map((b) => b.kill()));
    }
  });
});
