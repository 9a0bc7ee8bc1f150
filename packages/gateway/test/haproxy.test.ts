import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createGateway, exportHaproxy } from '../src/index.js';
import { startBackends, type Backend } from './support/backend.js';
import { Client, tally, waitFor, type Reply } from './support/client.js';
import { HAPROXY, freePort, needBinary, startHaproxy } from './support/proxies.js';

/** One set of options for both proxies: what the built-in gateway runs, HAProxy gets exported. */
const HEALTH = { path: '/healthz', interval: 200, timeout: 300, rise: 1, fall: 2 };

interface Front {
  base: string;
  stop(): Promise<void>;
}

async function builtIn(backends: Backend[]): Promise<Front> {
  const gw = createGateway({ balance: 'sticky', health: HEALTH });
  for (const b of backends) gw.add({ id: b.id, url: b.url });
  const { port } = await gw.listen(0, '127.0.0.1');
  await waitFor(() => gw.instances().every((i) => i.state === 'up'));
  return { base: `http://127.0.0.1:${port}`, stop: () => gw.close() };
}

async function haproxy(backends: Backend[]): Promise<Front> {
  const port = await freePort();
  const config = exportHaproxy({
    balance: 'sticky',
    host: '127.0.0.1',
    port,
    health: HEALTH,
    instances: backends.map((b) => ({ id: b.id, address: `127.0.0.1:${b.port}` })),
  });
  const proxy = await startHaproxy(config, port);
  const base = `http://127.0.0.1:${port}`;
  // Servers start "up" in HAProxy; wait until it answers through them.
  const probe = new Client(base);
  await waitFor(async () => (await probe.send('/')).status === 200, 5000, 'haproxy answering');
  await probe.close();
  return { base, stop: () => proxy.stop() };
}

/**
 * The same assertions against either front: new clients are spread; a client sticks to its
 * instance for 200 requests; once that instance dies its requests go to another one with no error
 * and stick there, the cookie rewritten.
 */
async function stickyAndFailover(start: (backends: Backend[]) => Promise<Front>): Promise<void> {
  const backends = await startBackends(3);
  const front = await start(backends);
  const clients = [new Client(front.base, true), new Client(front.base, true), new Client(front.base, true)];
  try {
    const first = await Promise.all(clients.map((c) => c.send('/')));
    assert.equal(
      new Set(first.map((r) => r.instance)).size,
      3,
      `new clients spread: ${JSON.stringify(tally(first))}`,
    );
    for (const [k, r] of first.entries()) {
      assert.equal(clients[k]!.cookies.get('sl.route'), r.instance, 'the cookie names the instance');
      const cookie = r.setCookie.find((c) => c.startsWith('sl.route='))!;
      assert.match(cookie, /HttpOnly/i);
      assert.match(cookie, /SameSite=Lax/i);
      assert.match(cookie, /path=\//i);
    }
    const c = clients[0]!;
    const pinned = first[0]!.instance!;
    const replies: Reply[] = [];
    for (let k = 0; k < 200; k++) replies.push(await c.send('/'));
    assert.deepEqual(tally(replies), { [pinned]: 200 }, 'sticks for 200 requests');

    await backends.find((b) => b.id === pinned)!.kill();
    const after: Reply[] = [];
    for (let k = 0; k < 50; k++) after.push(await c.send('/'));
    assert.ok(
      after.every((r) => r.status === 200),
      `no client-visible error: ${JSON.stringify(after.map((r) => r.status))}`,
    );
    const moved = after[0]!.instance!;
    assert.notEqual(moved, pinned);
    assert.deepEqual(tally(after), { [moved]: 50 }, 'sticks to the new instance');
    assert.equal(c.cookies.get('sl.route'), moved, 'the cookie was rewritten');
  } finally {
    await Promise.all(clients.map((x) => x.close()));
    await front.stop();
    await Promise.all(backends.map((b) => b.kill().catch(() => {})));
  }
}

describe('sticky routing and failover: built-in gateway and HAProxy with the exported config', () => {
  test('built-in gateway', () => stickyAndFailover(builtIn));
  test('HAProxy (exportHaproxy)', { skip: needBinary(HAPROXY, 'haproxy') }, () => stickyAndFailover(haproxy));
});
