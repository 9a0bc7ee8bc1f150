import type { FaultRecord, RunReport } from './report.js';
import type { WindowFigures } from './recorder.js';

const num = (v: number | null | undefined, digits = 0): string =>
  v === null || v === undefined ? '–' : v.toFixed(digits);

/** `before → during` of one window figure. */
const pair = (f: FaultRecord, pick: (w: WindowFigures) => number | null, digits = 0): string =>
  f.impact?.before && f.impact.during
    ? `${num(pick(f.impact.before), digits)} → ${num(pick(f.impact.during), digits)}`
    : '–';

const HEAD = [
  'config',
  'fault',
  'at s',
  'window s',
  'req/s before → during',
  'p50 ms before → during',
  'p99 ms before → during',
  'errors during',
  'sessions lost during',
  'lost updates during',
  'dup orders (run)',
];

/**
 * One row per fault a config went through: the throughput, p50 and p99 in the window just before
 * it and in its own (a network fault's hold, else the seconds after it), and the errors, sessions
 * and updates lost in its window. Duplicate orders are found by the audit after the load, so
 * only the run's count can be shown.
 *
 * @example
 * ```ts
 * faultCells(report.runs).rows[0]; // ['server/redis', 'latency', '22.5', '6', '310 → 120', …]
 * ```
 */
export function faultCells(runs: readonly RunReport[]): { head: string[]; rows: string[][] } {
  const rows: string[][] = [];
  for (const r of runs.filter((x) => x.skipped === null))
    for (const f of r.faults)
      rows.push([
        r.proxy && r.proxy !== 'builtin' ? `${r.config} via ${r.proxy}` : r.config,
        f.kind,
        num(f.at / 1000, 1),
        num(f.impact ? f.impact.windowMs / 1000 : null, 0),
        pair(f, (w) => w.throughput),
        pair(f, (w) => w.p50Ms, 1),
        pair(f, (w) => w.p99Ms, 1),
        num(f.impact?.during?.errors ?? f.impact?.errorsDuring),
        num(f.impact?.during?.sessionsLost),
        num(f.impact?.during?.lostUpdates),
        num(r.duplicateOrders),
      ]);
  return { head: HEAD, rows };
}

/**
 * {@link faultCells} as a Markdown table ('' when no fault ran).
 *
 * @example
 * ```ts
 * lines.push(faultMarkdown(report.runs));
 * ```
 */
export function faultMarkdown(runs: readonly RunReport[]): string {
  const { head, rows } = faultCells(runs);
  if (rows.length === 0) return '';
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}
