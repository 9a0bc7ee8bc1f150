/**
 * Must show 5 (issue 15), first half: a seeded corpus of 10,000 hostile bearer tokens against a
 * 3-instance shop cluster behind the gateway. Every one must be refused (401 with
 * `WWW-Authenticate: Bearer error="invalid_token"` and a problem, or 400/413/431 for what is not
 * even a request the shop reads), never answered 5xx, and no instance may die.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startCluster, type Cluster } from '@stateline/lab';
import { Agent } from 'undici';
import { DEFAULT_TOKEN_ISSUER } from '../src/config.js';
import { tokenKeyFromSeed } from '../src/token-keys.js';
import { hostileCorpus, type HostileToken } from './token-corpus.js';
import { SHOP_APP } from './support.js';

const CORPUS = 10_000;
const SEED = 15;
const PARALLEL = 16;
/** Answers that refuse before the token is looked at: a body or header too large, a malformed body. */
const NOT_READ = new Set([400, 413, 431]);
/** Routes a hostile token is sent to, in turn (the unsafe ones are CSRF-exempt for bearer requests). */
const ROUTES: [string, string, unknown?][] = [
  ['GET', '/api/whoami'],
  ['GET', '/api/cart'],
  ['POST', '/api/cart/items', { productId: 'mug', qty: 1 }],
  ['GET', '/api/orders'],
  ['POST', '/api/orders', {}],
  ['GET', '/api/sessions'],
  ['POST', '/api/logout-all'],
  ['DELETE', '/api/tokens/x'],
];

const dir = mkdtempSync(join(tmpdir(), 'shop-hostile-tokens-'));
const keySeed = createHash('sha256').update('issue 15 hostile corpus').digest();
let cluster: Cluster;
const dispatcher = new Agent({ connections: PARALLEL * 2, keepAliveTimeout: 4000 });

before(async () => {
  cluster = await startCluster({
    app: SHOP_APP,
    port: 0,
    instances: 3,
    stdio: 'ignore',
    strategy: 'server',
    store: `sqlite:${join(dir, 'state.db')}`,
    tokenKeys: [keySeed.toString('base64url')],
    env: { LOG_LEVEL: 'silent', STATELINE_SHOP_USERS: '0' },
  });
});
after(async () => {
  await cluster?.close();
  await dispatcher.close();
  rmSync(dir, { recursive: true, force: true });
});

async function send(method: string, path: string, headers: Record<string, string>, body?: unknown) {
  const { fetch } = await import('undici');
  const res = await fetch(cluster.url + path, {
    method,
    headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    dispatcher,
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

async function issue(username: string): Promise<{ accessToken: string; refreshToken: string }> {
  const r = await send('POST', '/api/tokens', {}, { username, password: 'stateline' });
  assert.equal(r.status, 200, r.text);
  return JSON.parse(r.text) as { accessToken: string; refreshToken: string };
}

describe('10,000 hostile bearer tokens against a 3-instance shop', () => {
  it('0 crashes, 0 5xx, 0 accepted, in under 60 s', async () => {
    const started = performance.now();
    const pidsBefore = cluster.status().instances.map((i) => `${i.id}:${i.pid}`);
    const real = [await issue('alice'), await issue('bob'), await issue('alice')];
    const claims = JSON.parse(Buffer.from(real[0]!.accessToken.split('.')[1]!, 'base64url').toString()) as {
      sub: string;
      sid: string;
    };
    const shopKey = tokenKeyFromSeed(keySeed).privateJwk as Parameters<typeof hostileCorpus>[0]['shopKey'];
    const corpus = await hostileCorpus(
      {
        seed: SEED,
        shopKey: { ...shopKey, kid: tokenKeyFromSeed(keySeed).kid },
        issuer: DEFAULT_TOKEN_ISSUER,
        audience: 'shop-api',
        real: real.map((p) => p.accessToken),
        userId: claims.sub,
        sid: claims.sid,
      },
      CORPUS,
    );
    assert.equal(corpus.length, CORPUS);
    // The corpus is deterministic in what it does to its inputs: the same seed draws the same kinds.
    const again = await hostileCorpus(
      {
        seed: SEED,
        shopKey: { ...shopKey, kid: tokenKeyFromSeed(keySeed).kid },
        issuer: DEFAULT_TOKEN_ISSUER,
        audience: 'shop-api',
        real: real.map((p) => p.accessToken),
        userId: claims.sub,
        sid: claims.sid,
      },
      200,
    );
    assert.deepEqual(
      again.map((t) => t.kind),
      corpus.slice(0, 200).map((t) => t.kind),
    );

    const accepted: string[] = [];
    const serverErrors: string[] = [];
    const badRefusals: string[] = [];
    const byKind = new Map<string, number>();
    const byStatus = new Map<number, number>();
    let next = 0;
    const judge = (t: HostileToken, what: string, r: { status: number; headers: Headers; text: string }) => {
      byKind.set(t.kind, (byKind.get(t.kind) ?? 0) + 1);
      byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1);
      const line = `${t.kind} → ${what}: ${r.status} ${r.text.slice(0, 120)} [${t.token.slice(0, 80)}]`;
      if (r.status >= 500) serverErrors.push(line);
      else if (r.status === 401) {
        const problem = /^application\/problem\+json/.test(r.headers.get('content-type') ?? '');
        const challenge =
          what.startsWith('refresh') || /error="invalid_token"/.test(r.headers.get('www-authenticate') ?? '');
        if (!problem || !challenge || /\n\s+at /.test(r.text)) badRefusals.push(line);
      } else if (!NOT_READ.has(r.status)) accepted.push(line);
    };
    const worker = async () => {
      while (next < corpus.length) {
        const i = next++;
        const t = corpus[i]!;
        if (i % 10 === 9) {
          // One in ten goes to the refresh endpoint as a refresh token instead.
          judge(t, 'refresh', await send('POST', '/api/tokens/refresh', {}, { refreshToken: t.token }));
          continue;
        }
        const [method, path, body] = ROUTES[i % ROUTES.length]!;
        const headers: Record<string, string> = { authorization: `Bearer ${t.token}` };
        if (method === 'POST' && path === '/api/orders') headers['idempotency-key'] = `hostile-${i}`;
        judge(t, `${method} ${path}`, await send(method, path, headers, body));
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));

    assert.deepEqual(serverErrors.slice(0, 5), [], `${serverErrors.length} answers were 5xx`);
    assert.deepEqual(accepted.slice(0, 5), [], `${accepted.length} hostile tokens were accepted`);
    assert.deepEqual(
      badRefusals.slice(0, 5),
      [],
      `${badRefusals.length} refusals lacked the challenge or problem`,
    );
    const status = cluster.status().instances;
    assert.deepEqual(
      status.map((i) => `${i.id}:${i.pid}`),
      pidsBefore,
      'every instance is the process it was',
    );
    assert.ok(
      status.every((i) => i.state === 'up' && i.restarts === 0),
      'no instance died',
    );
    // The real tokens still work: the corpus refused only itself.
    const me = await send('GET', '/api/whoami', { authorization: `Bearer ${real[1]!.accessToken}` });
    assert.equal(me.status, 200);
    assert.ok(byKind.size >= 30, `every kind was sent (${byKind.size})`);
    // The tokens were read and judged: nearly all refusals are the token's, not the request's.
    assert.ok((byStatus.get(401) ?? 0) >= CORPUS * 0.9, `statuses: ${JSON.stringify([...byStatus])}`);
    const seconds = (performance.now() - started) / 1000;
    assert.ok(seconds < 60, `took ${seconds.toFixed(1)} s`);
  });
});
