/**
 * `stateline up` on one host: the gateway and every client share 127.0.0.1, so an address alone
 * cannot tell the gateway's requests from a client's. The gateway proves its requests with a
 * per-cluster secret header; X-Forwarded-For without it is ignored.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Cluster } from '@stateline/lab';
import { instanceUrls, startShop } from './support.js';

const dir = mkdtempSync(join(tmpdir(), 'shop-xff-'));
let cluster: Cluster;
before(async () => {
  cluster = await startShop('server', `sqlite:${join(dir, 'state.db')}`);
});
after(async () => {
  await cluster?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** One failed login to `base` from 127.0.0.1 with the given extra headers; its status. */
function login(base: string, username: string, i: number, headers: Record<string, string>): Promise<number> {
  const { hostname, port } = new URL(base);
  const body = JSON.stringify({ username, password: `guess-${i}` });
  return new Promise<number>((resolve, reject) => {
    const req = http.request({
      host: hostname,
      port,
      path: '/api/login',
      method: 'POST',
      localAddress: '127.0.0.1',
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers },
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('forwarding headers under stateline up', () => {
  it("rotating X-Forwarded-For straight to an instance port from the gateway's own address gets 429 after 10", async () => {
    const [first] = await instanceUrls(cluster);
    assert.ok(first, 'an instance is up');
    const statuses: number[] = [];
    for (let i = 0; i < 14; i++) {
      statuses.push(
        await login(first.url, 'carol', i, {
          'x-forwarded-for': `198.51.100.${i}`,
          // A guessed proof is no proof.
          'x-stateline-gateway': 'not-the-secret-not-the-secret',
        }),
      );
    }
    assert.deepEqual(statuses, [...Array<number>(10).fill(401), 429, 429, 429, 429]);
  });

  it("through the gateway the client's own X-Forwarded-For and proof header change nothing", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      statuses.push(
        await login(cluster.url, 'bob', i, {
          'x-forwarded-for': `203.0.113.${i}`,
          'x-stateline-gateway': 'not-the-secret-not-the-secret',
        }),
      );
    }
    // The gateway's word (the last entry) is that this client is 127.0.0.1, whatever it claims.
    assert.deepEqual(statuses, [...Array<number>(10).fill(401), 429, 429]);
  });
});
