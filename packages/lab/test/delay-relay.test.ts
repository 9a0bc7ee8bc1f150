/**
 * The delay relay on loopback (no privilege needed): chunks leave in order however the jitter
 * falls, a delay set while a connection is open applies to it, and 0 ms passes bytes straight on.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { describe, it } from 'node:test';
import { DelayRelay, releaseAt } from '../src/netns/delay-relay.js';

describe('delay relay', () => {
  it('releases each chunk after its sampled delay, never before the chunk ahead of it', () => {
    const d = { delayMs: 50, jitterMs: 10 };
    assert.equal(
      releaseAt(0, 100, d, () => 0),
      140,
    );
    assert.equal(
      releaseAt(0, 100, d, () => 0.75),
      155,
    );
    // A short draw behind a long one waits for it.
    assert.equal(
      releaseAt(155, 101, d, () => 0),
      155,
    );
    assert.equal(
      releaseAt(0, 5, { delayMs: 0, jitterMs: 10 }, () => 0),
      5,
    );
  });

  it('forwards a stream in order through jitter, and delays a connection already open', async () => {
    const echo = net.createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    const relay = await DelayRelay.listen({
      host: '127.0.0.1',
      targetHost: '127.0.0.1',
      targetPort: (echo.address() as net.AddressInfo).port,
    });
    const c = net.connect({ host: '127.0.0.1', port: relay.port });
    c.setNoDelay(true);
    await once(c, 'connect');
    try {
      let got = '';
      c.on('data', (b: Buffer) => (got += b.toString()));
      const roundTrip = async (text: string) => {
        const start = got.length;
        const t0 = performance.now();
        c.write(text);
        while (got.length < start + text.length) await new Promise((r) => setTimeout(r, 2));
        return performance.now() - t0;
      };
      await roundTrip('a'); // at 0 ms: straight through
      relay.set({ delayMs: 60, jitterMs: 0 });
      const held = await roundTrip('b');
      assert.ok(held >= 55, `${held} ms`);
      // 200 writes with a delay drawn from 0–40 ms each: the echo keeps their order.
      relay.set({ delayMs: 20, jitterMs: 20 });
      const words = Array.from({ length: 200 }, (_, i) => `<${i}>`);
      got = '';
      for (const w of words) {
        c.write(w);
        await new Promise((r) => setImmediate(r));
      }
      while (got.length < words.join('').length) await new Promise((r) => setTimeout(r, 5));
      assert.equal(got, words.join(''));
    } finally {
      c.destroy();
    }
    // A client that writes and ends at once: its held bytes still reach the server.
    relay.set({ delayMs: 80, jitterMs: 0 });
    const received: Promise<string> = new Promise((resolve) =>
      echo.once('connection', (s: net.Socket) => {
        let text = '';
        s.on('data', (b: Buffer) => (text += b.toString())).on('end', () => resolve(text));
      }),
    );
    const last = net.connect({ host: '127.0.0.1', port: relay.port });
    last.on('error', () => undefined);
    await once(last, 'connect');
    last.end('QUIT\r\n');
    try {
      assert.equal(await received, 'QUIT\r\n');
    } finally {
      c.destroy();
      await relay.close();
      echo.close();
    }
  });
});
