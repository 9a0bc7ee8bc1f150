import { Agent, request } from 'undici';
import { createGateway } from '../../src/index.js';
import type { Gateway, GatewayOptions } from '../../src/index.js';
import type { Backend } from './backend.js';

/** A response as the tests look at it. */
export interface Reply {
  status: number;
  body: string;
  /** X-Stateline-Instance. */
  instance: string | undefined;
  headers: Record<string, string | string[] | undefined>;
  setCookie: string[];
}

/** One test client: its own keep-alive connections and an optional cookie jar. */
export class Client {
  readonly agent = new Agent({ keepAliveTimeout: 2000 });
  /** name → value; updated from Set-Cookie when `jar` is on. */
  readonly cookies = new Map<string, string>();

  constructor(
    private readonly base: string,
    private readonly jar = false,
  ) {}

  async send(
    path: string,
    init: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
  ): Promise<Reply> {
    const headers: Record<string, string> = { ...init.headers };
    if (this.jar && this.cookies.size > 0) {
      headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    }
    const res = await request(`${this.base}${path}`, {
      method: (init.method ?? 'GET') as 'GET',
      headers,
      body: init.body,
      dispatcher: this.agent,
    });
    const body = await res.body.text();
    const raw = res.headers['set-cookie'];
    const setCookie = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
    if (this.jar) {
      for (const c of setCookie) {
        const [pair] = c.split(';');
        const eq = pair!.indexOf('=');
        this.cookies.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1).trim());
      }
    }
    const instance = res.headers['x-stateline-instance'];
    return {
      status: res.statusCode,
      body,
      instance: typeof instance === 'string' ? instance : undefined,
      headers: res.headers,
      setCookie,
    };
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

/** Fast health checks so tests need not wait seconds for instances to come up. */
export const FAST_HEALTH = { interval: 40, timeout: 300, rise: 1, fall: 2 } as const;

/**
 * A gateway on port 0 in front of `backends` (ids = backend ids), resolved once all are `up`.
 */
export async function gatewayFor(
  backends: Backend[],
  options: GatewayOptions,
): Promise<{ gw: Gateway; base: string }> {
  const gw = createGateway({ health: FAST_HEALTH, ...options });
  for (const b of backends) gw.add({ id: b.id, url: b.url });
  const { port } = await gw.listen(0, '127.0.0.1');
  await waitFor(() => gw.instances().every((i) => i.state === 'up'), 5000);
  return { gw, base: `http://127.0.0.1:${port}` };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls until `check` is true, failing after `ms`. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  ms = 5000,
  what = 'condition',
): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`${what} not met within ${ms} ms`);
    await sleep(10);
  }
}

/** Counts replies per instance. */
export function tally(replies: Reply[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of replies)
    out[r.instance ?? `status ${r.status}`] = (out[r.instance ?? `status ${r.status}`] ?? 0) + 1;
  return out;
}
