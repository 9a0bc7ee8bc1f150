/**
 * The lab's `errors.retryable` counter: a 5xx or a lost answer counts there only for requests a
 * proxy may retry on another instance (idempotent methods, an Idempotency-Key), which is what
 * `--proxy haproxy` runs are held to (0 through an instance kill).
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, describe, it } from 'node:test';
import { Agent } from 'undici';
import { HttpClient, SAFE_ERRORS } from '../src/run/http-client.js';
import { mulberry32 } from '../src/run/prng.js';
import { Recorder } from '../src/run/recorder.js';

const server = createServer((req, res) => {
  if (req.url === '/reset') return void req.socket.destroy();
  res.statusCode = 503;
  res.end('{}');
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
const dispatcher = new Agent();
after(async () => {
  server.close();
  await dispatcher.close();
});

describe('errors.retryable', () => {
  it('counts failed GET, PUT and keyed POST, not a POST without a key', async () => {
    const rec = new Recorder();
    const http = new HttpClient({ base, dispatcher, random: mulberry32(1), rec });
    await http.request('POST', '/login', { json: {} });
    await http.request('POST', '/reset');
    assert.equal(rec.counterValues()[SAFE_ERRORS], undefined);
    await http.request('GET', '/cart');
    await http.request('PUT', '/reset');
    await http.request('POST', '/orders', { headers: { 'idempotency-key': 'k1' } });
    assert.equal(rec.counterValues()[SAFE_ERRORS], 3);
    assert.equal(rec.errors, 5);
    rec.destroy();
  });
});
