/**
 * `npm run bench -- session-memory [--count 100000] [--heap-stats]`
 *
 * How much memory a session costs. Each side runs in a fresh child process started with
 * `--expose-gc` (bench/servers/memory-child.ts): it fills and drops a warm-up store (so the JIT
 * and V8's young generation are at their working size, as in a running server), then creates
 * `count` sessions holding a 10-item cart and reports the RSS and heap growth after full GCs.
 * Stateline's `memory` strategy goes through the manager (load a fresh session, set the cart,
 * commit), with a browser user agent (which Stateline keeps for `list()`) and without;
 * express-session's MemoryStore gets `store.set(sid, session)` with the session and cookie
 * objects express-session builds. Target: Stateline, with a browser user agent, ≤ 1 KB of RSS
 * per session. `--heap-stats` adds a heap snapshot summary by constructor for each side.
 */
import { fork } from 'node:child_process';
import { parseArgs } from 'node:util';
import type { MemoryReport } from './servers/memory-child.js';

const { values: args } = parseArgs({
  options: {
    count: { type: 'string', default: '100000' },
    'heap-stats': { type: 'boolean', default: false },
  },
});
const COUNT = Number(args.count);
if (!(Number.isInteger(COUNT) && COUNT > 0)) throw new Error('--count must be a positive integer');
const CHILD = new URL('./servers/memory-child.ts', import.meta.url).pathname;
const TARGET_BYTES = 1024;

function measure(kind: string): Promise<MemoryReport> {
  return new Promise((resolve, reject) => {
    const child = fork(CHILD, [kind, String(COUNT), ...(args['heap-stats'] ? ['--heap-stats'] : [])], {
      execArgv: ['--expose-gc', '--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let report: MemoryReport | undefined;
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.on('message', (m: MemoryReport) => (report = m));
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (report) resolve(report);
      else reject(new Error(`${kind}: child exited with ${String(code)} and no report`));
    });
  });
}

const LABELS: Record<string, string> = {
  stateline: 'Stateline memory (browser user agent)',
  'stateline-no-ua': 'Stateline memory (no user agent)',
  'express-session': 'express-session MemoryStore',
};

console.log(
  `session-memory bench: ${COUNT.toLocaleString('en')} sessions, 10-item cart each; node ${process.version}`,
);
const reports: MemoryReport[] = [];
for (const kind of Object.keys(LABELS)) reports.push(await measure(kind));

const per = (bytes: number, r: MemoryReport) => Math.round(bytes / r.count);
const lines = [
  '| store | sessions kept | RSS B/session | heapUsed B/session | heapTotal B/session | young gen B/session | external B/session |',
  '|---|---:|---:|---:|---:|---:|---:|',
];
for (const r of reports) {
  lines.push(
    `| ${LABELS[r.kind]} | ${r.verified.toLocaleString('en')} | ${per(r.rssBytes, r)} | ${per(r.heapUsedBytes, r)} | ${per(r.heapTotalBytes, r)} | ${per(r.newSpaceBytes, r)} | ${per(r.externalBytes, r)} |`,
  );
}
console.log(`\n${lines.join('\n')}\n`);
for (const r of reports) {
  if (!r.heap) continue;
  console.log(`${LABELS[r.kind]}: heap by constructor (shallow bytes per session, count per session)`);
  for (const g of r.heap) {
    console.log(
      `  ${(g.bytes / r.count).toFixed(1).padStart(8)} B  ${(g.count / r.count).toFixed(2).padStart(6)}×  ${g.name}`,
    );
  }
}
// The target is judged on the realistic case (requests carry a user agent, which Stateline keeps for list()).
const target = reports.find((r) => r.kind === 'stateline')!;
const perSession = (r: MemoryReport) => Math.round(r.rssBytes / r.count);
const kept = reports.every((r) => r.verified === r.count);
const pass = perSession(target) <= TARGET_BYTES && kept;
console.log(
  `${pass ? 'PASS' : 'FAIL'} ${LABELS.stateline}: ${perSession(target)} B RSS per session (target ≤ ${TARGET_BYTES} B)` +
    (kept ? '' : ' — not every session was kept'),
);
for (const r of reports.filter((x) => x !== target))
  console.log(`info: ${LABELS[r.kind]} ${perSession(r)} B RSS per session`);
process.exit(kept ? 0 : 1);
