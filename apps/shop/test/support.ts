/** Helpers for the shop's API tests: a cookie-keeping client and a shop cluster per strategy. */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { startCluster, type Cluster } from '@stateline/lab';

/** The built server (`npm run build` first). */
export const SHOP_APP = fileURLToPath(new URL('../dist/server.js', import.meta.url));

/** An answer: status, headers and the body (parsed when it is JSON). */
export interface Answer<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface RequestOptions {
  body?: unknown;
  /** Sent as is (no JSON encoding). */
  raw?: string | Buffer;
  headers?: Record<string, string>;
  /** Another base URL (an instance instead of the gateway). */
  base?: string;
  /** Do not send or update the cookie. */
  noCookie?: boolean;
}

/** Where the cluster's responses come from: every one of them must name its instance. */
const GATEWAY_OWN = /^\/(?:metrics|_stateline\/)/;

/**
 * A browser-like client: keeps the session cookie (`sl.sid`) and, under `hybrid`, the session
 * version it was last answered with (`sl.sid.v`); checks `X-Stateline-Instance`.
 */
export class Client {
  cookie = '';
  /** The `sl.sid.v=<n>` pair (hybrid), sent along with `cookie`. */
  version = '';
  constructor(
    readonly base: string,
    readonly userAgent = 'shop-test',
  ) {}

  async req<T = Record<string, unknown>>(
    method: string,
    path: string,
    o: RequestOptions = {},
  ): Promise<Answer<T>> {
    const headers: Record<string, string> = { 'user-agent': this.userAgent, ...o.headers };
    if (this.cookie && !o.noCookie)
      headers.cookie = this.version ? `${this.cookie}; ${this.version}` : this.cookie;
    let body: string | Buffer | undefined = o.raw;
    if (o.body !== undefined) {
      body = JSON.stringify(o.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(`${o.base ?? this.base}${path}`, { method, headers, body });
    const text = await res.text();
    if (!o.noCookie) {
      for (const c of res.headers.getSetCookie()) {
        const pair = c.split(';', 1)[0]!;
        const gone = /max-age=0|expires=thu, 01 jan 1970/i.test(c) || pair.endsWith('=');
        if (pair.startsWith('sl.sid=')) this.cookie = gone ? '' : pair;
        else if (pair.startsWith('sl.sid.v=')) this.version = gone ? '' : pair;
      }
    }
    if (!GATEWAY_OWN.test(path))
      assert.ok(
        res.headers.get('x-stateline-instance'),
        `${method} ${path} (${res.status}) names its instance`,
      );
    let parsed: unknown = text;
    if (/json/.test(res.headers.get('content-type') ?? '') && text) parsed = JSON.parse(text);
    return { status: res.status, headers: res.headers, body: parsed as T, text };
  }

  /** Logs in (asserting 200). */
  async login(username: string, password = 'stateline'): Promise<void> {
    const r = await this.req('POST', '/api/login', { body: { username, password } });
    assert.equal(r.status, 200, `login ${username}: ${r.text}`);
  }
}

/**
 * Asserts a problem+json answer with this status and code.
 *
 * @example
 * ```ts
 * expectProblem(await c.req('GET', '/api/products/nope'), 404, 'SL_ERR_NOT_FOUND');
 * ```
 */
export function expectProblem(r: Answer<unknown>, status: number, code: string): void {
  assert.equal(r.status, status, `status of ${r.text}`);
  assert.match(r.headers.get('content-type') ?? '', /^application\/problem\+json/);
  const body = r.body as { code?: string; status?: number };
  assert.equal(body.code, code);
  assert.equal(body.status, status);
  assert.doesNotMatch(r.text, /\n\s+at /, 'no stack trace');
}

/** The instances' own URLs, from `GET /_stateline/status`. */
export async function instanceUrls(cluster: Cluster): Promise<{ id: string; url: string }[]> {
  const res = await fetch(`${cluster.url}/_stateline/status`);
  const status = (await res.json()) as { instances: { id: string; url: string | null; state: string }[] };
  return status.instances.filter((i) => i.url && i.state === 'up').map((i) => ({ id: i.id, url: i.url! }));
}

/** Starts the shop as a cluster of 3 behind the gateway, quietly, with `user1`…`user<users>` seeded. */
export function startShop(
  strategy: 'server' | 'token' | 'hybrid' | 'memory',
  store: string,
  users = 3,
): Promise<Cluster> {
  return startCluster({
    app: SHOP_APP,
    port: 0,
    instances: 3,
    stdio: 'ignore',
    strategy,
    store,
    env: { LOG_LEVEL: 'silent', STATELINE_SHOP_USERS: String(users) },
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls until `check` is truthy, failing after `ms`. */
export async function within<T>(ms: number, check: () => Promise<T>, every = 20): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > until) assert.fail(`not true within ${ms} ms`);
    await sleep(every);
  }
}
