import { faultMarkdown } from './fault-table.js';
import { findings, switchSteps } from './findings.js';
import type { LabReport } from './report.js';
import { markdownTable } from './table.js';

/**
 * `report.md`: what ran, on what, the results table, the faults, and "What this run shows".
 *
 * @example
 * ```ts
 * writeFileSync('lab-report/report.md', reportMarkdown(report));
 * ```
 */
export function reportMarkdown(report: LabReport): string {
  const { options: o, machine: m } = report;
  const lines = [
    `# Stateline lab report`,
    '',
    `${report.startedAt.slice(0, 10)}, ${m.cpus} CPUs (${m.cpuModel}), ${m.memoryGb} GB, Node ${m.node}, ${m.platform}.` +
      ` ${o.users} virtual users, ${o.instances} instances, ${(o.durationMs / 1000).toFixed(0)} s per config, faults: ${o.faults.join(', ') || 'none'}, seed ${report.seed}` +
      ` (repeat with \`--seed ${report.seed}\`).` +
      (report.aborted ? ' **Interrupted: the last run is partial and later ones are missing.**' : ''),
    '',
    markdownTable(report.runs).trimEnd(),
    '',
    '## Faults',
    '',
  ];
  for (const r of report.runs.filter((x) => x.skipped === null)) {
    const cost = (i: (typeof r.faults)[number]['impact']) =>
      i
        ? ` (p99 ${i.p99MsBefore ?? '–'} → ${i.p99MsDuring ?? '–'} ms, ${i.errorsDuring} errors${i.websocketsCut === undefined ? '' : `, ${i.websocketsCut} WebSockets on it`})`
        : '';
    const done = r.faults.map(
      (f) => `${f.kind} ${f.target} at ${(f.at / 1000).toFixed(1)} s${cost(f.impact)}`,
    );
    const not = r.faultsNotApplied.map((f) => `${f.kind} not applied (${f.reason})`);
    lines.push(`- \`${r.config}\`: ${[...done, ...switchSteps(r), ...not].join('; ') || 'none'}`);
  }
  const perFault = faultMarkdown(report.runs);
  if (perFault) lines.push('', 'Each fault against as long a window just before it:', '', perFault);
  const errorful = report.runs.filter((r) => Object.keys(r.errorsByType).length > 0);
  if (errorful.length > 0) {
    lines.push('', '## Errors by type', '');
    for (const r of errorful)
      lines.push(
        `- \`${r.config}\`: ${Object.entries(r.errorsByType)
          .map(([k, v]) => `${k} × ${v}`)
          .join(', ')}`,
      );
  }
  const counted = report.runs.filter(
    (r) => Object.keys(r.counters ?? {}).length > 0 || Object.keys(r.timings ?? {}).length > 0,
  );
  if (counted.length > 0) {
    lines.push('', '## What the workload counted', '');
    for (const r of counted) {
      const counters = Object.entries(r.counters ?? {}).map(([k, v]) => `${k} ${v}`);
      const timings = Object.entries(r.timings ?? {}).map(
        ([k, t]) => `${k} p50 ${t.p50} ms, p99 ${t.p99} ms, max ${t.max} ms (${t.count})`,
      );
      lines.push(`- \`${r.config}\`: ${[...counters, ...timings].join('; ')}`);
    }
  }
  const copied = report.runs.filter((r) => r.copies);
  if (copied.length > 0) {
    lines.push('', '## Session copies (memory replication)', '');
    for (const r of copied) {
      const c = r.copies!;
      const name = r.proxy && r.proxy !== 'builtin' ? `${r.config} via ${r.proxy}` : r.config;
      lines.push(
        `- \`${name}\`: ${c.degraded} writes stood without a copy, ${c.rerouted} copied to the next peer, ${c.fetchFailures} reads found no copy in time, ${c.fetched} sessions fetched from a peer`,
      );
    }
  }
  lines.push('', '## What this run shows', '');
  for (const f of findings(report))
    lines.push(`**${f.topic}${f.failed ? ' (FAILED)' : ''}.** ${f.sentences.join(' ')}`, '');
  lines.push(
    'Every measure is defined in `docs/lab.md` (section "Measures"); the raw numbers and the per-second timeline are in `report.json`.',
    '',
  );
  return lines.join('\n');
}
