import type { RunReport } from './report.js';

/** One column of the results table. */
interface Column {
  title: string;
  value: (r: RunReport) => string;
}

const num = (v: number | null | undefined, digits = 0): string =>
  v === null || v === undefined ? '–' : v.toFixed(digits);

const COLUMNS: Column[] = [
  // A config run through HAProxy as well (`--proxy haproxy`) shows twice: the second as `… via haproxy`.
  {
    title: 'config',
    value: (r) => (r.proxy && r.proxy !== 'builtin' ? `${r.config} via ${r.proxy}` : r.config),
  },
  { title: 'inst', value: (r) => num(r.instances) },
  { title: 'items', value: (r) => num(r.stateSize) },
  { title: 'requests', value: (r) => num(r.requests) },
  { title: 'req/s', value: (r) => num(r.throughput, 0) },
  { title: 'p50 ms', value: (r) => num(r.latencyMs?.p50, 1) },
  { title: 'p95 ms', value: (r) => num(r.latencyMs?.p95, 1) },
  { title: 'p99 ms', value: (r) => num(r.latencyMs?.p99, 1) },
  { title: 'max ms', value: (r) => num(r.latencyMs?.max, 0) },
  { title: 'errors', value: (r) => num(r.errors) },
  { title: 'sessions lost', value: (r) => num(r.sessionsLost) },
  { title: 'lost updates', value: (r) => num(r.lostUpdates) },
  { title: 'stale reads', value: (r) => num(r.staleReads) },
  { title: 'dup orders', value: (r) => num(r.duplicateOrders) },
  { title: 'B/req', value: (r) => num(r.bytesPerRequest) },
  { title: 'store ops/req', value: (r) => num(r.storeOpsPerRequest, 2) },
  { title: 'RSS MB', value: (r) => num(r.rssMb, 0) },
  { title: 'CPU s/1k', value: (r) => num(r.cpuSecondsPer1k, 2) },
  { title: 'store CPU s/1k', value: (r) => num(r.storeCpuSecondsPer1k, 2) },
  { title: 'bottleneck', value: (r) => r.load?.bottleneck ?? '–' },
  {
    title: 'recovery ms',
    // Killed but never two clean seconds before the end: "never"; no kill: "–".
    value: (r) =>
      r.recoveryMs === null && r.faults.some((f) => f.kind === 'kill') ? 'never' : num(r.recoveryMs),
  },
];

/**
 * The results table as cells: column titles, one row of formatted values per run that ran (with
 * its instance count and state size when those vary), and the skipped runs.
 *
 * @example
 * ```ts
 * const { head, rows } = tableCells(report.runs);
 * ```
 */
export function tableCells(runs: readonly RunReport[]): {
  head: string[];
  rows: string[][];
  skipped: RunReport[];
} {
  const done = runs.filter((r) => r.skipped === null);
  // The axis columns only when a run has that axis (`--scale`, `--state-size`).
  const columns = COLUMNS.filter(
    (c) =>
      (c.title !== 'inst' || new Set(runs.map((r) => r.instances)).size > 1) &&
      (c.title !== 'items' || runs.some((r) => r.stateSize !== null)),
  );
  return {
    head: columns.map((c) => c.title),
    rows: done.map((r) => columns.map((c) => c.value(r))),
    skipped: runs.filter((r) => r.skipped !== null),
  };
}

/**
 * The results as a plain-text table for a terminal, one row per config that ran, then one line
 * per skipped config with its reason.
 *
 * @example
 * ```ts
 * process.stdout.write(textTable(report.runs));
 * ```
 */
export function textTable(runs: readonly RunReport[]): string {
  const { head, rows, skipped } = tableCells(runs);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r
      .map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  const out = [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
  for (const s of skipped) out.push(`${s.config}: skipped (${s.skipped})`);
  return out.join('\n') + '\n';
}

/**
 * The results as a Markdown table (skipped configs listed under it).
 *
 * @example
 * ```ts
 * writeFileSync('table.md', markdownTable(report.runs));
 * ```
 */
export function markdownTable(runs: readonly RunReport[]): string {
  const { head, rows, skipped } = tableCells(runs);
  const esc = (v: string) => v.replace(/\|/g, '\\|');
  const out = [
    `| ${head.map(esc).join(' | ')} |`,
    `| ${head.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ];
  if (skipped.length) {
    out.push('');
    for (const s of skipped) out.push(`- \`${s.config}\`: skipped — ${s.skipped}`);
  }
  return out.join('\n') + '\n';
}
