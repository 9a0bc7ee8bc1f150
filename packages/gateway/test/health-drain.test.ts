import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createGateway, type StateChange } from '../src/index.js';
import { startBackends, type Backend } from './support/backend.js';
import { Client, FAST_HEALTH, gatewayFor, sleep, tally, waitFor, type Reply } from './support/client.js';

describe('health checks', () => {
  test('an instance is starting until rise checks pass, then up', async () => {
    const [b] = await startBackends(1);
    const changes: StateChange[] = [];
    const gw = createGateway({
      health: { interval: 60, timeout: 300, rise: 3, fall: 2 },
      onStateChange: (c) => changes.push(c),
    });
    try {
      b!.healthy = false;
      gw.add({ id: 'b1', url: b!.url });
      const { port } = await gw.listen(0);
      const c = new Client(`http://127.0.0.1:${port}`);
      await sleep(200);
      assert.equal(gw.instances()[0]!.state, 'starting');
      const refused = await c.send('/');
      assert.equal(refused.status, 503);
      assert.equal(refused.headers['content-type'], 'application/problem+json');
      assert.equal(refused.headers['retry-after'], '1');
      assert.equal(JSON.parse(refused.body).code, 'SL_ERR_NO_INSTANCE');
      assert.equal(b!.hits.length, 0);
      const healthyAt = Date.now();
      b!.healthy = true;
      await waitFor(() => gw.instances()[0]!.state === 'up', 2000);
      assert.ok(Date.now() - healthyAt >= 2 * 60 - 20, 'took rise = 3 checks');
      assert.equal((await c.send('/')).instance, 'b1');
      assert.deepEqual(changes, [{ id: 'b1', from: 'starting', to: 'up', reason: 'health' }]);
      await c.close();
    } finally {
      await gw.close();
      await b!.kill();
    }
  });

  test('failing active checks take an instance down after fall; passing ones bring it back', async () => {
    const backends = await startBackends(2);
    const { gw, base } = await gatewayFor(backends, { balance: 'round-robin' });
    const c = new Client(base);
    try {
      backends[0]!.healthy = false;
      await waitFor(() => gw.instances()[0]!.state === 'down', 2000, 'b1 down');
      const replies: Reply[] = [];
      for (let k = 0; k < 10; k++) replies.push(await c.send('/'));
      assert.deepEqual(tally(replies), { b2: 10 });
      backends[0]!.healthy = true;
      await waitFor(() => gw.instances()[0]!.state === 'up', 2000, 'b1 up');
      replies.length = 0;
      for (let k = 0; k < 10; k++) replies.push(await c.send('/'));
      assert.deepEqual(tally(replies), { b1: 5, b2: 5 });
    } finally {
      await c.close();
      await gw.close();
      await Promise.all(backends.map((b) => b.kill()));
    }
  });

  test('passive: connection errors count toward fall; answers never do, 502/503 and 4xx included', async () => {
    const backends = await startBackends(2);
    // Slow active checks, so only proxied traffic can take an instance down within the test.
    const { gw, base } = await gatewayFor(backends, {
      balance: 'round-robin',
      health: { interval: 5000, timeout: 300, rise: 1, fall: 2 },
    });
    const c = new Client(base);
    try {
      // POSTs are not retried on a 503, so each answer reaches the client; a live instance
      // answering 503 (its Store is down, say) or 413 stays up however often it does.
      for (let k = 0; k < 6; k++) {
        const r = await c.send(k % 2 === 0 ? '/status/503' : '/status/413', { method: 'POST' });
        assert.equal(r.status, k % 2 === 0 ? 503 : 413);
      }
      assert.deepEqual(
        gw.instances().map((i) => i.state),
        ['up', 'up'],
      );
      assert.deepEqual(
        gw.instances().map((i) => i.errors),
        [3, 0],
        'b1 answered the 503s (each counts as an error), b2 the 413s (not errors)',
      );

      // Connection errors: b2 dies; its GETs are retried on b1 and after two refused connections
      // b2 is down without waiting for an active check.
      await backends[1]!.kill();
      const replies: Reply[] = [];
      const b2State = () => gw.instances().find((i) => i.id === 'b2')!.state;
      for (let k = 0; k < 10 && b2State() === 'up'; k++) replies.push(await c.send('/'));
      assert.deepEqual(tally(replies), { b1: replies.length });
      const b2 = gw.instances().find((i) => i.id === 'b2')!;
      assert.equal(b2.state, 'down');
      assert.equal(b2.errors, 2, 'two refused connections');
      assert.equal(b2.retries, 2);
    } finally {
      await c.close();
      await gw.close();
      await Promise.all(backends.map((b) => b.kill()));
    }
  });

  test('passive: a connection reset before any answer counts (the request had been sent)', async () => {
    const [b] = await startBackends(1);
    const { gw, base } = await gatewayFor([b!], {
      health: { interval: 5000, timeout: 300, rise: 1, fall: 2 },
    });
    const c = new Client(base);
    try {
      assert.equal((await c.send('/reset')).status, 502);
      assert.equal(gw.instances()[0]!.state, 'up');
      assert.equal((await c.send('/reset', { method: 'POST', body: 'x' })).status, 502);
      assert.equal(gw.instances()[0]!.state, 'down', 'two resets in a row');
    } finally {
      await c.close();
      await gw.close();
      await b!.kill();
    }
  });

  test('no instance at all: 503 problem with Retry-After', async () => {
    const gw = createGateway({ balance: 'sticky' });
    const { port } = await gw.listen(0);
    const c = new Client(`http://127.0.0.1:${port}`);
    try {
      const r = await c.send('/anything', { method: 'POST', body: 'x' });
      assert.equal(r.status, 503);
      assert.equal(r.headers['retry-after'], '1');
      const doc = JSON.parse(r.body);
      assert.equal(doc.code, 'SL_ERR_NO_INSTANCE');
      assert.equal(doc.status, 503);
    } finally {
      await c.close();
      await gw.close();
    }
  });
});

describe('drain', () => {
  test('a slow request started before drain completes with 200; new requests go elsewhere', async () => {
    const backends = await startBackends(2);
    const { gw, base } = await gatewayFor(backends, { balance: 'least-conn' });
    const c = new Client(base);
    try {
      const slow = c.send('/slow?ms=500');
      await waitFor(() => gw.instances().some((i) => i.inflight === 1), 2000, 'slow request in flight');
      const busy = gw.instances().find((i) => i.inflight === 1)!.id;
      const other = busy === 'b1' ? 'b2' : 'b1';
      let drained = false;
      const draining = gw.drain(busy).then(() => (drained = true));
      assert.equal(gw.instances().find((i) => i.id === busy)!.state, 'draining');
      const during: Reply[] = [];
      for (let k = 0; k < 10; k++) during.push(await c.send('/'));
      assert.deepEqual(tally(during), { [other]: 10 });
      assert.equal(drained, false, 'drain waits for the slow request');
      const slowReply = await slow;
      assert.equal(slowReply.status, 200);
      assert.equal(slowReply.instance, busy);
      await draining;
      assert.equal(gw.instances().find((i) => i.id === busy)!.inflight, 0);
      // Health checks do not undo a drain.
      await sleep(150);
      assert.equal(gw.instances().find((i) => i.id === busy)!.state, 'draining');
      gw.remove(busy);
      assert.deepEqual(
        gw.instances().map((i) => i.id),
        [other],
      );
    } finally {
      await c.close();
      await gw.close();
      await Promise.all(backends.map((b) => b.kill()));
    }
  });

  test('sticky clients of a draining instance are redispatched and get a new cookie', async () => {
    const backends = await startBackends(2);
    const { gw, base } = await gatewayFor(backends, { balance: 'sticky' });
    const c = new Client(base, true);
    try {
      const pinned = (await c.send('/')).instance!;
      await gw.drain(pinned);
      const moved = await c.send('/');
      assert.notEqual(moved.instance, pinned);
      assert.equal(c.cookies.get('sl.route'), moved.instance);
    } finally {
      await c.close();
      await gw.close();
      await Promise.all(backends.map((b) => b.kill()));
    }
  });

  test('drain resolves at once when nothing is in flight; add() replaces an instance with the same id', async () => {
    const backends = await startBackends(2);
    const gw = createGateway({ health: FAST_HEALTH });
    try {
      gw.add({ id: 'x', url: backends[0]!.url });
      await waitFor(() => gw.instances()[0]!.state === 'up');
      await gw.drain('x');
      gw.add({ id: 'x', url: backends[1]!.url });
      assert.deepEqual(
        gw.instances().map((i) => [i.id, i.url, i.state]),
        [['x', backends[1]!.url, 'starting']],
      );
      await waitFor(() => gw.instances()[0]!.state === 'up');
      await assert.rejects(gw.drain('nope'), { code: 'SL_ERR_INVALID_ARGUMENT' });
      gw.markDown('nope'); // ignored: the supervisor may kill a process it already removed
      assert.throws(() => gw.add({ id: 'bad id', url: backends[0]!.url }), {
        code: 'SL_ERR_INVALID_ARGUMENT',
      });
      assert.throws(() => gw.add({ id: 'y', url: 'ftp://x' }), { code: 'SL_ERR_INVALID_ARGUMENT' });
    } finally {
      await gw.close();
      await Promise.all(backends.map((b: Backend) => b.kill()));
    }
  });

  test('options are checked', () => {
    assert.throws(() => createGateway({ balance: 'nope' as 'hash' }), { code: 'SL_ERR_INVALID_OPTION' });
    assert.throws(() => createGateway({ health: { interval: -1 } }), { code: 'SL_ERR_INVALID_OPTION' });
    assert.throws(() => createGateway({ retry: { attempts: 1.5 } }), { code: 'SL_ERR_INVALID_OPTION' });
    assert.throws(() => createGateway({ hash: { cookie: 'a', header: 'b' } }), {
      code: 'SL_ERR_INVALID_OPTION',
    });
    assert.throws(() => createGateway({ typo: 1 } as never), { code: 'SL_ERR_INVALID_OPTION' });
  });
});
