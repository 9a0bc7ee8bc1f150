/**
 * `npm run bench -- session-hit --baseline <dir> [--strategies memory,server,token] [--pairs 40] [--batch 3000]`
 *
 * The session layer alone, without HTTP: per iteration `load` (with the session's cookie) →
 * `get` → `set` → `userId` → `commit`, on this tree's built library and on the baseline
 * checkout's (built), both imported into this one process and run in alternating batches (A B,
 * B A, …), so the JIT, the heap and the machine's load fall on both sides alike. Prints each
 * strategy's median ns per iteration and the median of the per-pair ratios (this ÷ baseline):
 * above 1 means this tree is slower. On a shared machine it resolves a few percent where the
 * HTTP bench (`sessions --baseline`) cannot, because nothing but the session code runs.
 * `server` and `hybrid` use an in-process MemoryStore, so no network is measured.
 */
import { resolve } from 'node:path';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import type * as SessionModule from 'stateline/session';
import type { SessionManager, SessionStrategyName } from 'stateline/session';
import type * as StoreModule from 'stateline/store';

const KEY = 'a-very-long-bench-secret-of-at-least-32-chars';
const { values: args } = parseArgs({
  options: {
    baseline: { type: 'string' },
    strategies: { type: 'string', default: 'memory,server,token' },
    pairs: { type: 'string', default: '40' },
    batch: { type: 'string', default: '3000' },
  },
});
if (!args.baseline) {
  console.error('usage: npm run bench -- session-hit --baseline <a built checkout of this repository>');
  process.exit(2);
}
const here = resolve(new URL('..', import.meta.url).pathname);
const PAIRS = Number(args.pairs);
const BATCH = Number(args.batch);

type Loop = (n: number) => Promise<number>;

/** One side: a manager of `root`'s library and a loop over one session; ns per iteration. */
async function side(
  root: string,
  strategy: SessionStrategyName,
): Promise<{ loop: Loop; close: () => Promise<void> }> {
  const lib = `${root}/packages/stateline/dist`;
  const { createSessions } = (await import(`${lib}/session/index.js`)) as typeof SessionModule;
  const { MemoryStore } = (await import(`${lib}/store/index.js`)) as typeof StoreModule;
  const m: SessionManager = await createSessions({
    strategy,
    keys: [KEY],
    ...(strategy === 'memory' ? {} : { store: new MemoryStore() }),
  });
  const first = await m.load({ cookie: undefined, encrypted: false });
  first.set('n', 0);
  const req = {
    cookie: (await first.commit()).setCookie[0]!.split(';')[0],
    encrypted: false,
    userAgent: 'bench',
  };
  const loop: Loop = async (n) => {
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      const s = await m.load(req);
      s.set('n', (s.get<number>('n') ?? 0) + 1);
      void s.userId;
      const { setCookie } = await s.commit();
      // A token changes with every write: the next request carries the new one.
      if (setCookie.length > 0) req.cookie = setCookie[0]!.split(';')[0];
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
    `${strategy.padEnd(7)} this ${median(ours).toFixed(0)} ns, baseline ${median(theirs).toFixed(0)} ns per load+get+set+commit; this ÷ baseline ${median(ratios).toFixed(3)} (median of ${PAIRS} pairs, range ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})`,
  );
  await Promise.all([a.close(), b.close()]);
}
console.log(`load average at the end: ${loadavg()[0]!.toFixed(1)}`);
