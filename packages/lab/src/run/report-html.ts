import { axisCharts, barCharts, renderSvg, timelineChart } from './charts.js';
import { faultCells } from './fault-table.js';
import { findings, switchSteps } from './findings.js';
import { runLabel, type LabReport } from './report.js';
import { summaryLines } from './summary.js';
import { tableCells } from './table.js';

const esc = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!,
  );

/** Inline code spans of the generated sentences (`x`) as <code>. */
const inline = (s: string) => esc(s).replace(/`([^`]+)`/g, '<code>$1</code>');

function tableHtml(report: LabReport): string {
  const { head, rows, skipped } = tableCells(report.runs);
  return [
    '<table><thead><tr>',
    ...head.map((h) => `<th>${esc(h)}</th>`),
    '</tr></thead><tbody>',
    ...rows.map(
      (r) => `<tr>${r.map((v, i) => (i === 0 ? `<th>${esc(v)}</th>` : `<td>${esc(v)}</td>`)).join('')}</tr>`,
    ),
    '</tbody></table>',
    skipped.length
      ? `<ul>${skipped.map((s) => `<li><code>${esc(s.config)}</code>: skipped — ${esc(s.skipped ?? '')}</li>`).join('')}</ul>`
      : '',
  ].join('');
}

/** One row per fault: its window's figures beside the window before it ('' when no fault ran). */
function faultTableHtml(report: LabReport): string {
  const { head, rows } = faultCells(report.runs);
  if (rows.length === 0) return '';
  return [
    '<table id="fault-rows"><thead><tr>',
    ...head.map((h) => `<th>${esc(h)}</th>`),
    '</tr></thead><tbody>',
    ...rows.map(
      (r) => `<tr>${r.map((v, i) => (i === 0 ? `<th>${esc(v)}</th>` : `<td>${esc(v)}</td>`)).join('')}</tr>`,
    ),
    '</tbody></table>',
  ].join('');
}

const STYLE = `
body { font: 14px/1.45 Helvetica, Arial, sans-serif; margin: 24px auto; max-width: 1180px; color: #222; padding: 0 16px; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
table { border-collapse: collapse; font-size: 12px; }
th, td { border: 1px solid #ddd; padding: 3px 6px; } td { text-align: right; font-variant-numeric: tabular-nums; }
thead th { background: #f3f3f3; } tbody th { text-align: left; font-weight: normal; font-family: monospace; }
code { background: #f3f3f3; padding: 0 3px; border-radius: 3px; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; } figure { margin: 0; }
.meta { color: #555; } .warn { color: #a00; font-weight: bold; }
`;

/**
 * `report.html`: one self-contained page (no script, no external URL): the table, the faults,
 * "What this run shows", and charts rendered to inline SVG with vega-lite + vega in Node —
 * throughput and p99 latency over time per config with the faults marked, and one bar chart per
 * measure.
 *
 * @example
 * ```ts
 * writeFileSync('lab-report/report.html', await reportHtml(report));
 * ```
 */
export async function reportHtml(report: LabReport): Promise<string> {
  const { options: o, machine: m } = report;
  const ran = report.runs.filter((r) => r.skipped === null);
  const label = (r: (typeof ran)[number]) => runLabel(r, o);
  const timelines = await Promise.all(
    ran.map(async (r) => {
      const chart = timelineChart(r, label(r));
      return `<figure id="${chart.id}"><figcaption>${esc(chart.title)}</figcaption>${await renderSvg(chart.spec)}</figure>`;
    }),
  );
  const bars = ran.length
    ? await Promise.all(
        barCharts(report.runs, label).map(
          async (chart) => `<figure id="${chart.id}">${await renderSvg(chart.spec)}</figure>`,
        ),
      )
    : [];
  const axes = [
    ...(o.scale && ran.length
      ? [['Scale-out: by instance count', axisCharts(report.runs, 'scale')] as const]
      : []),
    ...(o.stateSizes && ran.length
      ? [['Cost of state: by items per user', axisCharts(report.runs, 'size')] as const]
      : []),
  ];
  const axisHtml = await Promise.all(
    axes.map(
      async ([title, charts]) =>
        `<h2>${esc(title)}</h2><div class="charts">${(
          await Promise.all(
            charts.map(async (c) => `<figure id="${c.id}">${await renderSvg(c.spec)}</figure>`),
          )
        ).join('\n')}</div>`,
    ),
  );
  const summary = summaryLines(report).map((l) => `<li>${inline(l)}</li>`);
  const faults = ran.map((r) => {
    const done = r.faults.map((f) => `${f.kind} ${f.target} at ${(f.at / 1000).toFixed(1)} s`);
    const not = r.faultsNotApplied.map((f) => `${f.kind} not applied (${f.reason})`);
    return `<li><code>${esc(label(r))}</code>: ${esc([...done, ...switchSteps(r), ...not].join('; ') || 'none')}</li>`;
  });
  const shows = findings(report).map(
    (f) =>
      `<p${f.failed ? ' class="warn"' : ''}><strong>${esc(f.topic)}${f.failed ? ' (FAILED)' : ''}.</strong> ${f.sentences.map(inline).join(' ')}</p>`,
  );
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Stateline lab report ${esc(report.startedAt.slice(0, 10))}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>Stateline lab report</h1>
<p class="meta">${esc(report.startedAt)} · ${m.cpus} CPUs (${esc(m.cpuModel)}) · ${m.memoryGb} GB · Node ${esc(m.node)} · ${esc(m.platform)}<br>
${o.users} virtual users · ${o.scale ? `${o.scale.join(', ')} instances` : `${o.instances} instances`}${o.stateSizes ? ` · ${o.stateSizes.join(', ')} items per user` : ''} · ${(o.durationMs / 1000).toFixed(0)} s per config · faults: ${esc(o.faults.join(', ') || 'none')} · seed ${report.seed}</p>
${report.aborted ? '<p class="warn">Interrupted: the last run is partial and later ones are missing.</p>' : ''}
<h2>Which config for what</h2>
<ol id="summary">${summary.join('')}</ol>
<h2>Results</h2>
${tableHtml(report)}
${axisHtml.join('\n')}
<h2>Per config</h2>
<div class="charts">${bars.join('\n')}</div>
<h2>Over time</h2>
<div class="charts">${timelines.join('\n')}</div>
<h2>Faults</h2>
<ul>${faults.join('')}</ul>
${faultTableHtml(report)}
<h2>What this run shows</h2>
${shows.join('\n')}
</body>
</html>
`;
}
