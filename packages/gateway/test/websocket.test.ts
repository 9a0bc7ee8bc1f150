import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { describe, test } from 'node:test';
import WebSocket from 'ws';
import { startBackends } from './support/backend.js';
import { Client, gatewayFor, waitFor } from './support/client.js';

function open(url: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  const ws = new WebSocket(url, { headers });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

async function echo(ws: WebSocket, text: string): Promise<string> {
  ws.send(text);
  const [data] = (await once(ws, 'message')) as [Buffer];
  return String(data);
}

describe('WebSocket', () => {
  test('echo through the gateway, on the sticky instance, counted while open', async () => {
    const backends = await startBackends(3);
    const { gw, base } = await gatewayFor(backends, { balance: 'sticky' });
    const http = new Client(base, true);
    try {
      const pinned = (await http.send('/')).instance!;
      const wsUrl = base.replace('http', 'ws') + '/ws';
      const cookie = `sl.route=${pinned}`;
      const sockets = await Promise.all([
        open(wsUrl, { cookie }),
        open(wsUrl, { cookie }),
        open(wsUrl, { cookie }),
      ]);
      for (const [k, ws] of sockets.entries())
        assert.equal(await echo(ws, `hello ${k}`), `${pinned}:hello ${k}`);
      assert.equal(gw.instances().find((i) => i.id === pinned)!.websockets, 3);
      // Binary frames pass through untouched.
      sockets[0]!.send(Buffer.from([0, 1, 2, 255]));
      const [bin] = (await once(sockets[0]!, 'message')) as [Buffer];
      assert.deepEqual([...bin], [0, 1, 2, 255]);
      // A big message crosses in many TCP segments.
      const big = 'x'.repeat(300_000);
      assert.equal(await echo(sockets[1]!, big), `${pinned}:${big}`);
      for (const ws of sockets) ws.close();
      await waitFor(() => gw.instances().every((i) => i.websockets === 0), 2000, 'sockets released');
    } finally {
      await http.close();
      await gw.close();
      await Promise.all(backends.map((b) => b.kill()));
    }
  });

  test('the instance dying closes the client socket; a dead instance is skipped on connect', async () => {
    const backends = await startBackends(2);
    const { gw, base } = await gatewayFor(backends, {
      balance: 'round-robin',
      health: { interval: 60_000, timeout: 300, rise: 1, fall: 100 },
    });
    try {
      const wsUrl = base.replace('http', 'ws') + '/ws';
      const ws = await open(wsUrl);
      const first = (await echo(ws, 'a')).split(':')[0]!;
      const closed = once(ws, 'close');
      await backends.find((b) => b.id === first)!.kill();
      await closed;
      // The dead one still counts as up (slow checks): the connection to it is refused, so the
      // upgrade goes to the other instance.
      for (let k = 0; k < 3; k++) {
        const again = await open(wsUrl);
        assert.notEqual((await echo(again, 'b')).split(':')[0], first);
        again.close();
      }
    } finally {
      await gw.close();
      await Promise.all(backends.map((b) => b.kill().catch(() => {})));
    }
  });

  test('no instance: the upgrade gets a 503 problem', async () => {
    const backends = await startBackends(1);
    const { gw, base } = await gatewayFor(backends, { balance: 'round-robin' });
    try {
      gw.markDown('b1');
      const ws = new WebSocket(base.replace('http', 'ws') + '/ws');
      const [, res] = (await once(ws, 'unexpected-response')) as [unknown, IncomingMessage];
      assert.equal(res.statusCode, 503);
      assert.equal(res.headers['content-type'], 'application/problem+json');
      assert.equal(res.headers['retry-after'], '1');
      ws.on('error', () => {});
      ws.terminate();
    } finally {
      await gw.close();
      await Promise.all(backends.map((b) => b.kill()));
    }
  });
});
