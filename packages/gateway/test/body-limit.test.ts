/** Request bodies over a limit: the gateway's own 413, instances that refuse a body early, and health. */
import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, test } from 'node:test';
import type { StateChange } from '../src/index.js';
import { startBackends } from './support/backend.js';
import { Client, gatewayFor } from './support/client.js';

const TEN_MB = 10_000_000;

/** POSTs `body` with node:http (Content-Length, or chunked when `chunked`); the answer or the error code. */
function post(
  url: string,
  body: Buffer,
  chunked = false,
): Promise<{ status: number; text: string; type: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = http.request(url, {
      method: 'POST',
      headers: chunked ? { 'content-type': 'application/json' } : { 'content-length': String(body.length) },
    });
    let answered = false;
    req.on('response', (res) => {
      answered = true;
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () =>
        resolve({ status: res.statusCode!, text, type: String(res.headers['content-type']) }),
      );
    });
    // An upload cut short after the answer arrived is expected; one before it is the failure.
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (!answered) resolve({ error: err.code ?? err.message });
    });
    if (chunked) {
      for (let o = 0; o < body.length; o += 65536) req.write(body.subarray(o, o + 65536));
      req.end();
    } else req.end(body);
  });
}

describe('request body limits', () => {
  test('the gateway answers 413 itself over maxBodyBytes: no instance touched, every answer arrives', async () => {
    const backends = await startBackends(2);
    const changes: StateChange[] = [];
    const { gw, base } = await gatewayFor(backends, {
      maxBodyBytes: 64 * 1024,
      onStateChange: (c) => c.to === 'down' && changes.push(c),
    });
    const c = new Client(base);
    try {
      const big = Buffer.alloc(TEN_MB, 'a');
      const answers = [];
      for (let k = 0; k < 20; k++) answers.push(await post(`${base}/x`, big, k % 2 === 1));
      for (const a of answers) {
        assert.ok('status' in a, `an answer, not ${JSON.stringify(a)}`);
        assert.equal(a.status, 413);
        assert.equal(a.type, 'application/problem+json');
        assert.equal(JSON.parse(a.text).code, 'SL_ERR_PAYLOAD_TOO_LARGE');
      }
      assert.deepEqual(
        backends.map((b) => b.hits.length),
        [0, 0],
        'no instance saw an oversized request',
      );
      // At the limit exactly, the body goes through.
      const ok = await c.send('/x', { method: 'POST', body: Buffer.alloc(64 * 1024, 'b') });
      assert.equal(ok.status, 200);
      assert.equal(ok.headers['x-body-bytes'], String(64 * 1024));
      assert.deepEqual(changes, []);
      assert.deepEqual(
        gw.instances().map((i) => [i.state, i.errors]),
        [
          ['up', 0],
          ['up', 0],
        ],
      );
    } finally {
      await c.close();
      await gw.close();
      await Promise.all(backends.map((b) => b.kill()));
    }
  });

  test('a streamed body that grows past maxBodyBytes is cut and answered 413, not blamed on the instance', async () => {
    const backends = await startBackends(1);
    const changes: StateChange[] = [];
    const { gw, base } = await gatewayFor(backends, {
      maxBodyBytes: 2_000_000,
      retry: { maxBodyBytes: 1024 },
      health: { interval: 60_000, timeout: 300, rise: 1, fall: 1 },
      onStateChange: (c) => c.to === 'down' && changes.push(c),
    });
    try {
      for (let k = 0; k < 5; k++) {
        const a = await post(`${base}/slow?ms=300`, Buffer.alloc(TEN_MB, 'a'), true);
        // The instance had not answered yet: the gateway's own 413 (or, at worst, a cut connection).
        if ('status' in a) assert.equal(a.status, 413);
      }
      assert.deepEqual(changes, [], 'fall is 1, yet the instance never went down');
      assert.equal(gw.instances()[0]!.state, 'up');
    } finally {
      await gw.close();
      await backends[0]!.kill();
    }
  });

  test('an instance that answers 413 early and drops the upload is relayed and never marked down', async () => {
    const backends = await startBackends(2);
    const changes: StateChange[] = [];
    // Active checks too slow to matter: only proxied traffic could take an instance down.
    const { gw, base } = await gatewayFor(backends, {
      maxBodyBytes: 50_000_000,
      health: { interval: 60_000, timeout: 300, rise: 1, fall: 2 },
      onStateChange: (c) => c.to === 'down' && changes.push(c),
    });
    const c = new Client(base);
    try {
      const statuses: Record<string, number> = {};
      for (let k = 0; k < 20; k++) {
        const a = await post(`${base}/early-413`, Buffer.alloc(k % 2 ? TEN_MB : 200_000, 'a'));
        const key = 'status' in a ? String(a.status) : a.error;
        statuses[key] = (statuses[key] ?? 0) + 1;
      }
      assert.ok(statuses['413']! > 0, `some 413s relayed: ${JSON.stringify(statuses)}`);
      for (const key of Object.keys(statuses))
        assert.ok(key === '413' || key === '502', `413 or, when the reset beat the answer, 502: ${key}`);
      assert.deepEqual(changes, [], 'no instance went down');
      const after = await Promise.all([c.send('/'), c.send('/')]);
      assert.deepEqual(after.map((r) => r.status).sort(), [200, 200]);
    } finally {
      await c.close();
      await gw.close();
      await Promise.all(backends.map((b) => b.kill()));
    }
  });

  test('a client that aborts its own upload does not count against the instance', async () => {
    const backends = await startBackends(1);
    const changes: StateChange[] = [];
    const { gw, base } = await gatewayFor(backends, {
      maxBodyBytes: 50_000_000,
      retry: { maxBodyBytes: 1024 },
      health: { interval: 60_000, timeout: 300, rise: 1, fall: 1 },
      onStateChange: (c) => c.to === 'down' && changes.push(c),
    });
    try {
      for (let k = 0; k < 5; k++) {
        await new Promise<void>((resolve) => {
          const req = http.request(`${base}/x`, { method: 'POST', headers: { 'content-length': '5000000' } });
          req.on('error', () => resolve());
          req.write(Buffer.alloc(200_000, 'a'));
          setTimeout(() => req.destroy(), 50);
        });
      }
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(changes, [], 'fall is 1, yet the instance never went down');
      assert.equal(gw.instances()[0]!.errors, 0);
    } finally {
      await gw.close();
      await backends[0]!.kill();
    }
  });
});
