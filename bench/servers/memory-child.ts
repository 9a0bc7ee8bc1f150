/**
 * One side of `npm run bench -- session-memory`, in a fresh process started with `--expose-gc`:
 * `node --expose-gc --import tsx bench/servers/memory-child.ts <stateline|stateline-no-ua|express-session> <count> [--heap-stats]`.
 *
 * Fills a throwaway store with a warm-up batch first and drops it, so the baseline is taken with the
 * JIT warm and V8's young generation at its working size, as in a server that has been serving
 * requests (otherwise the young generation growing from 1 MB to its 32 MB working size would be
 * charged to the sessions). Then creates `count` sessions holding a 10-item cart and reports the
 * growth of RSS and of each heap figure after full GCs over the IPC channel.
 * `--heap-stats` adds a heap snapshot summarised by constructor.
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { getHeapSpaceStatistics } from 'node:v8';
import { createSessions } from 'stateline/session';
import { summarizeHeap, type HeapGroup } from './heap-stats.js';
import { BENCH_SECRET } from './rows.js';

export interface MemoryReport {
  kind: string;
  count: number;
  rssBytes: number;
  heapUsedBytes: number;
  /** Heap reserved by V8 (used plus free space in its pages). */
  heapTotalBytes: number;
  /** Growth of the young generation's reserved size (should be ~0 after the warm-up). */
  newSpaceBytes: number;
  /** Memory outside the JS heap (Buffers, ArrayBuffers). */
  externalBytes: number;
  /** Sessions read back at the end to prove they were all kept (first, last and a sample in between). */
  verified: number;
  heap?: HeapGroup[];
}

const [kind = '', countArg = '100000', ...flags] = process.argv.slice(2);
const COUNT = Number(countArg);
const WARMUP = Math.min(20_000, COUNT);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

/** A typical browser user agent: what a real request carries and Stateline keeps for `list()`. */
const BROWSER_UA =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';

/** The same 10-item cart for both libraries; a fresh object per session, as after parsing a request. */
function cart(i: number): { productId: string; qty: number }[] {
  return Array.from({ length: 10 }, (_, j) => ({
    productId: `p-${100 + ((i + j) % 900)}`,
    qty: 1 + ((i + j) % 3),
  }));
}

interface Measure {
  memory: NodeJS.MemoryUsage;
  newSpace: number;
}

function settle(): Measure {
  for (let i = 0; i < 6; i++) gc!();
  const newSpace = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
  return { memory: process.memoryUsage(), newSpace };
}

/** A store holding `count` sessions; `verify` reads a sample back and returns `count` when all match. */
interface Filled {
  verify(): Promise<number>;
  close(): Promise<void>;
}

const sampled = (i: number, count: number) => i === 0 || i === count - 1 || i % 9973 === 0;

async function stateline(count: number, userAgent: string | undefined): Promise<Filled> {
  const sessions = await createSessions({ strategy: 'memory', keys: [BENCH_SECRET], maxSessions: count });
  const kept: { cookie: string; n: number }[] = [];
  for (let i = 0; i < count; i++) {
    const s = await sessions.load({ cookie: undefined, encrypted: false, userAgent });
    s.set('cart', cart(i));
    const { setCookie } = await s.commit();
    if (sampled(i, count)) kept.push({ cookie: setCookie[0]!.split(';')[0]!, n: i });
  }
  return {
    async verify() {
      let ok = 0;
      for (const { cookie, n } of kept) {
        const s = await sessions.load({ cookie, encrypted: false, userAgent });
        if (JSON.stringify(s.get('cart')) === JSON.stringify(cart(n))) ok++;
      }
      return ok === kept.length ? count : ok;
    },
    close: () => sessions.close(),
  };
}

interface ExpressSessionModule {
  MemoryStore: new () => {
    set(sid: string, session: unknown, cb?: (err?: unknown) => void): void;
    get(sid: string, cb: (err: unknown, session?: { cart?: unknown }) => void): void;
    clear(cb?: () => void): void;
  };
  Session: new (req: { sessionID: string; sessionStore: unknown }, data?: object) => { cookie?: object };
  Cookie: new (options: object) => object;
}

async function expressSession(count: number): Promise<Filled> {
  const es = createRequire(import.meta.url)('express-session') as ExpressSessionModule;
  const store = new es.MemoryStore();
  const kept: { sid: string; n: number }[] = [];
  for (let i = 0; i < count; i++) {
    // What express-session does for a new session (store.generate, then the handler sets the cart), then saves it.
    const sid = randomBytes(24).toString('base64url');
    const session = new es.Session({ sessionID: sid, sessionStore: store }, { cart: cart(i) });
    session.cookie = new es.Cookie({
      path: '/',
      httpOnly: true,
      secure: false,
      sameSite: 'lax',
      maxAge: 30 * 60 * 1000,
    });
    store.set(sid, session);
    if (sampled(i, count)) kept.push({ sid, n: i });
  }
  await new Promise((resolve) => setImmediate(resolve));
  return {
    async verify() {
      let ok = 0;
      for (const { sid, n } of kept) {
        const s = await new Promise<{ cart?: unknown } | undefined>((resolve) =>
          store.get(sid, (_e, v) => resolve(v)),
        );
        if (JSON.stringify(s?.cart) === JSON.stringify(cart(n))) ok++;
      }
      return ok === kept.length ? count : ok;
    },
    close: () => new Promise<void>((resolve) => store.clear(() => resolve())),
  };
}

const fill = (count: number) =>
  kind === 'express-session'
    ? expressSession(count)
    : stateline(count, kind === 'stateline-no-ua' ? undefined : BROWSER_UA);

await (await fill(WARMUP)).close();
const before = settle();
const filled = await fill(COUNT);
const after = settle();
const report: MemoryReport = {
  kind,
  count: COUNT,
  rssBytes: after.memory.rss - before.memory.rss,
  heapUsedBytes: after.memory.heapUsed - before.memory.heapUsed,
  heapTotalBytes: after.memory.heapTotal - before.memory.heapTotal,
  newSpaceBytes: after.newSpace - before.newSpace,
  externalBytes: after.memory.external - before.memory.external,
  verified: await filled.verify(),
};
if (flags.includes('--heap-stats')) report.heap = summarizeHeap(15);
process.send?.(report);
process.exit(0);
