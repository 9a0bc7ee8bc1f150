/**
 * `npm run bench -- session-hit --baseline <dir> [--strategies memory,server,token] [--pairs 40] [--batch 3000]
 *   [--items <cart lines>] [--redis] [--read]`
 *
 * The session layer alone, without HTTP: per iteration `load` (with the session's cookie) →
 * `get` → `set` → `userId` → `commit`, on this tree's built library and on the baseline
 * checkout's (built), both imported into this one process and run in alternating batches (A B,
 * B A, …), so the JIT, the heap and the machine's load fall on both sides alike. Prints each
 * strategy's median ns per iteration and the median of the per-pair ratios (this ÷ baseline):
 * above 1 means this tree is slower. On a shared machine it resolves a few percent where the
 * HTTP bench (`sessions --baseline`) cannot, because nothing but the session code runs.
 * `server` and `hybrid` use an in-process MemoryStore, so no network is measured.
 *
 * `--items N`: the session also carries a cart of N lines (bench/servers/cart.ts, as the growth
 * bench's), and an iteration is the growth bench's hit: `load` → `get('cart')` →
 * `update('hits', n => n + 1)` → `commit`. `--redis`: `server` records in the shared Redis (a
 * prefix of this run, deleted at the end) instead of a MemoryStore; an iteration then waits for
 * two round trips, so the figure is this process's CPU time per iteration (user + system), not
 * its wall time. `--read`: an iteration only reads (`load` → `get` → `commit`, nothing written).
 */
import { resolve } from 'node:path';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import type * as SessionModule from 'stateline/session';
import type { SessionManager, SessionStrategyName } from 'stateline/session';
import type * as StoreModule from 'stateline/store';
import { cartOf } from './servers/cart.js';
import { RedisAdmin } from './servers/redis-admin.js';
import { REDIS_URL } from './servers/rows.js';

const KEY = 'a-very-long-bench-secret-of-at-least-32-chars';
const { values: args } = parseArgs({
  options: {
    baseline: { type: 'string' },
    strategies: { type: 'string', default: 'memory,server,token' },
    pairs: { type: 'string', default: '40' },
    batch: { type: 'string', default: '3000' },
    items: { type: 'string', default: '0' },
    redis: { type: 'boolean', default: false },
    read: { type: 'boolean', default: false },
  },
});
if (!args.baseline) {
  console.error('usage: npm run bench -- session-hit --baseline <a built checkout of this repository>');
  process.exit(2);
}
const here = resolve(new URL('..', import.meta.url).pathname);
const PAIRS = Number(args.pairs);
const BATCH = Number(args.batch);
const ITEMS = Number(args.items);
const RUN_PREFIX = `slhit:${Date.now().toString(36)}-${process.pid}:`;
let sides = 0;

type Loop = (n: number) => Promise<number>;

/** One side: a manager of `root`'s library and a loop over one session; ns per iteration. */
async function side(
  root: string,
  strategy: SessionStrategyName,
): Promise<{ loop: Loop; close: () => Promise<void> }> {
  const lib = `${root}/packages/stateline/dist`;
  const { createSessions } = (await import(`${lib}/session/index.js`)) as typeof SessionModule;
  const { MemoryStore } = (await import(`${lib}/store/index.js`)) as typeof StoreModule;
  const store = args.redis ? `${REDIS_URL}?prefix=${RUN_PREFIX}${sides++}:` : new MemoryStore();
  const m: SessionManager = await createSessions({
    strategy,
    keys: [KEY],
    ...(strategy === 'memory' ? {} : { store }),
  });
  const first = await m.load({ cookie: undefined, encrypted: false });
  first.set('n', 0);
  if (ITEMS > 0) first.set('cart', cartOf(ITEMS));
  const req = {
    cookie: (await first.commit()).setCookie[0]!.split(';')[0],
    encrypted: false,
    userAgent: 'bench',
  };
  const loop: Loop = async (n) => {
    const t = process.hrtime.bigint();
    const cpu = process.cpuUsage();
    for (let i = 0; i < n; i++) {
      const s = await m.load(req);
      if (args.read) {
        if (s.get('n') === undefined) throw new Error('the session lost its counter');
      } else if (ITEMS > 0) {
        if (s.get('cart') === undefined) throw new Error('the session lost its cart');
        await s.update<number>('hits', (h = 0) => h + 1);
      } else s.set('n', (s.get<number>('n') ?? 0) + 1);
      void s.userId;
      const { setCookie } = await s.commit();
      // A token changes with every write: the next request carries the new one.
      if (setCookie.length > 0) req.cookie = setCookie[0]!.split(';')[0];
    }
    if (args.redis) {
      const used = process.cpuUsage(cpu);
      return ((used.user + used.system) * 1000) / n;
    }
    return Number(process.hrtime.bigint() - t) / n;
  };
  return { loop, close: () => m.close() };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
console.log(
  `session-hit: this tree vs ${args.baseline}, ${PAIRS} alternating batch pairs of ${BATCH}; load average ${loadavg()[0]!.toFixed(1)}`,
);
for (const strategy of args.strategies.split(',') as SessionStrategyName[]) {
  const a = await side(here, strategy);
  const b = await side(resolve(args.baseline), strategy);
  for (let i = 0; i < 2; i++) {
    await a.loop(BATCH);
    await b.loop(BATCH);
  }
  const ours: number[] = [];
  const theirs: number[] = [];
  const ratios: number[] = [];
  for (let p = 0; p < PAIRS; p++) {
    let mine: number;
    let base: number;
    if (p % 2 === 0) {
      mine = await a.loop(BATCH);
      base = await b.loop(BATCH);
    } else {
      base = await b.loop(BATCH);
      mine = await a.loop(BATCH);
    }
    ours.push(mine);
    theirs.push(base);
    ratios.push(mine / base);
  }
  console.log(
    `${strategy.padEnd(7)} this ${median(ours).toFixed(0)} ns, baseline ${median(theirs).toFixed(0)} ns${args.redis ? ' of CPU' : ''} per ${args.read ? 'load+get+commit' : ITEMS > 0 ? `load+get(cart of ${ITEMS})+update+commit` : 'load+get+set+commit'}; this ÷ baseline ${median(ratios).toFixed(3)} (median of ${PAIRS} pairs, range ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})`,
  );
  await Promise.all([a.close(), b.close()]);
}
if (args.redis) {
  const admin = await RedisAdmin.open();
  console.log(`redis: deleted ${await admin.deleteKeysUnder(RUN_PREFIX)} keys under ${RUN_PREFIX}`);
  await admin.close();
}
console.log(`load average at the end: ${loadavg()[0]!.toFixed(1)}`);
