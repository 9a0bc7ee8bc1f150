import type { TopLevelSpec } from 'vega-lite';
import type { RunReport } from './report.js';

/** A chart of the report: a title and its vega-lite spec. */
export interface ChartSpec {
  id: string;
  title: string;
  spec: TopLevelSpec;
}

/** The measures drawn as per-config bars: field, label, unit. */
export const BAR_MEASURES = [
  ['throughput', 'Throughput', 'req/s'],
  ['p99', 'Latency p99', 'ms'],
  ['errors', 'Errors seen by users', 'count'],
  ['sessionsLost', 'Sessions lost', 'count'],
  ['lostUpdates', 'Lost updates', 'count'],
  ['duplicateOrders', 'Duplicate orders', 'count'],
  ['bytesPerRequest', 'Header bytes per request', 'bytes'],
  ['storeOpsPerRequest', 'Store operations per request', 'ops'],
  ['rssMb', 'Largest instance RSS', 'MB'],
  ['cpuSecondsPer1k', 'Instance CPU per 1,000 requests', 's'],
  ['recoveryMs', 'Recovery after the kill', 'ms'],
] as const;

const FONT = 'Helvetica, Arial, sans-serif';
const CONFIG = {
  font: FONT,
  axis: { labelFontSize: 10, titleFontSize: 11 },
  title: { fontSize: 13, anchor: 'start' as const },
  view: { stroke: null },
};

function measure(r: RunReport, field: (typeof BAR_MEASURES)[number][0]): number | null {
  if (field === 'p99') return r.latencyMs?.p99 ?? null;
  return r[field];
}

/**
 * Per-config time series, one point per whole second of load: requests per second, p99 latency,
 * and errors and lost sessions per second, each with the faults drawn as dashed rules labelled
 * with their kind and target.
 *
 * @example
 * ```ts
 * const spec = timelineChart(report.runs[0]);
 * ```
 */
export function timelineChart(run: RunReport, label = run.config): ChartSpec {
  // The last, partial second (users finishing their requests) would read as a collapse.
  const whole = Math.max(1, Math.floor((run.durationMs ?? 0) / 1000));
  const points = run.timeline.filter((p) => p.t < whole).map((p) => ({ ...p, t: p.t + 0.5 }));
  const bad = points.flatMap((p) => [
    { t: p.t, what: 'errors', n: p.errors },
    { t: p.t, what: 'sessions lost', n: p.sessionsLost },
  ]);
  const worst = Math.max(1, ...points.map((p) => p.errors + p.sessionsLost));
  // Labels one under another, so faults close in time stay readable; the store's port is in the report.
  const faults = run.faults.map((f, i) => ({
    t: f.at / 1000,
    label: f.kind === 'store-restart' ? f.kind : `${f.kind} ${f.target}`,
    y: 2 + 11 * i,
  }));
  const x = {
    field: 't',
    type: 'quantitative' as const,
    title: 'seconds since the load began',
    scale: { domain: [0, whole], nice: false },
  };
  const rules = {
    data: { values: faults },
    layer: [
      {
        mark: { type: 'rule' as const, strokeDash: [4, 3], color: '#d62728' },
        encoding: { x },
      },
      {
        mark: {
          type: 'text' as const,
          align: 'left' as const,
          baseline: 'top' as const,
          dx: 3,
          fontSize: 9,
          color: '#d62728',
        },
        encoding: {
          x,
          y: { field: 'y', type: 'quantitative' as const, scale: null },
          text: { field: 'label' },
        },
      },
    ],
  };
  const panel = (title: string, layer: object) => ({
    width: 250,
    height: 150,
    title,
    layer: [layer, ...(faults.length ? [rules] : [])],
  });
  const line = (field: 'requests' | 'p99', color: string, unit: string) => ({
    data: { values: points },
    mark: { type: 'line' as const, color, point: { size: 10, color } },
    encoding: { x, y: { field, type: 'quantitative' as const, title: unit } },
  });
  return {
    id: `timeline-${label.replace(/[^a-z0-9]+/gi, '-')}`,
    title: `${label}: per second of load (red dashed: faults)`,
    spec: {
      config: CONFIG,
      hconcat: [
        panel('Requests per second', line('requests', '#1f77b4', 'requests / s')),
        panel('p99 latency', line('p99', '#2ca02c', 'ms')),
        panel('Errors and lost sessions', {
          data: { values: bad },
          mark: { type: 'bar' as const, opacity: 0.85 },
          encoding: {
            x: { ...x, bin: { step: 1, extent: [0, whole] }, axis: { format: '~g' } },
            y: {
              field: 'n',
              type: 'quantitative' as const,
              aggregate: 'sum',
              title: 'per second',
              stack: true,
              scale: { domain: [0, worst] },
              axis: { format: 'd', tickMinStep: 1 },
            },
            color: {
              field: 'what',
              type: 'nominal' as const,
              title: null,
              scale: { domain: ['errors', 'sessions lost'], range: ['#ff7f0e', '#9467bd'] },
              legend: { orient: 'top' as const },
            },
          },
        }),
      ],
    } as TopLevelSpec,
  };
}

/**
 * One bar chart per measure, a bar per config that ran.
 *
 * @example
 * ```ts
 * const specs = barCharts(report.runs, (r) => runLabel(r, report.options));
 * ```
 */
export function barCharts(
  runs: readonly RunReport[],
  label: (r: RunReport) => string = (r) => r.config,
): ChartSpec[] {
  const done = runs.filter((r) => r.skipped === null);
  return BAR_MEASURES.map(([field, title, unit]) => {
    const values = done.map((r) => ({ config: label(r), value: measure(r, field) }));
    // All zero (the good outcome for the counters) still needs an axis that reads as zero.
    const top = Math.max(0, ...values.map((v) => v.value ?? 0));
    return {
      id: `bars-${field}`,
      title: `${title} (${unit})`,
      spec: {
        config: CONFIG,
        width: 260,
        height: { step: 18 },
        title: {
          text: `${title} (${unit})`,
          ...(field === 'recoveryMs' ? { subtitle: 'no bar: no kill, or no recovery before the end' } : {}),
        },
        data: { values },
        layer: [
          {
            mark: { type: 'bar', color: '#4c78a8' },
            encoding: {
              y: { field: 'config', type: 'nominal', sort: null, title: null },
              x: {
                field: 'value',
                type: 'quantitative',
                title: unit,
                ...(top === 0 ? { scale: { domain: [0, 1] }, axis: { tickCount: 1 } } : {}),
              },
            },
          },
          {
            mark: { type: 'text', align: 'left', dx: 3, fontSize: 9 },
            encoding: {
              y: { field: 'config', type: 'nominal', sort: null },
              x: { field: 'value', type: 'quantitative' },
              text: { field: 'value', type: 'quantitative', format: ',.4~g' },
            },
          },
        ],
      } as TopLevelSpec,
    };
  });
}

/**
 * Compiles a vega-lite spec and renders it to an SVG string in this process (vega's headless
 * `View.toSVG()`, no browser); namespace attributes are dropped, as inline SVG in HTML needs none.
 *
 * @example
 * ```ts
 * const svg = await renderSvg(timelineChart(run).spec);
 * ```
 */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const [{ compile }, { parse, View }] = await Promise.all([import('vega-lite'), import('vega')]);
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    return svg.replace(/\s+xmlns(:xlink)?="[^"]*"/g, '');
  } finally {
    view.finalize();
  }
}

/** The measures drawn against an axis: field, label, unit. */
const AXIS_MEASURES = {
  scale: [
    ['throughput', 'Throughput', 'req/s'],
    ['p99', 'Latency p99', 'ms'],
    ['storeCores', 'Store server CPU', 'cores'],
    ['hostBusy', 'Host CPU busy', 'share'],
  ],
  size: [
    ['bytesPerRequest', 'Header bytes per request', 'bytes'],
    ['throughput', 'Throughput', 'req/s'],
    ['p99', 'Latency p99', 'ms'],
    ['storeOpsPerRequest', 'Store operations per request', 'ops'],
  ],
} as const;

function axisValue(r: RunReport, field: string): number | null {
  if (field === 'p99') return r.latencyMs?.p99 ?? null;
  if (field === 'storeCores') return r.load?.storeCores ?? null;
  if (field === 'hostBusy') return r.load?.hostBusy ?? null;
  return r[field as 'throughput' | 'bytesPerRequest' | 'storeOpsPerRequest'];
}

/**
 * One line chart per measure against an axis of the run: `scale` (instances, a line per config
 * and state size) or `size` (state items per user, a line per config and instance count).
 *
 * @example
 * ```ts
 * const scaleOut = axisCharts(report.runs, 'scale');
 * ```
 */
export function axisCharts(runs: readonly RunReport[], axis: 'scale' | 'size'): ChartSpec[] {
  const done = runs.filter((r) => r.skipped === null);
  const xField = axis === 'scale' ? 'instances' : 'stateSize';
  const xTitle = axis === 'scale' ? 'instances' : 'state items per user';
  const multi = new Set(done.map((r) => (axis === 'scale' ? r.stateSize : r.instances))).size > 1;
  return AXIS_MEASURES[axis].flatMap(([field, title, unit]) => {
    const values = done.flatMap((r) => {
      const value = axisValue(r, field);
      if (value === null) return [];
      const other = axis === 'scale' ? `${r.stateSize ?? '–'} items` : `×${r.instances}`;
      return [{ x: r[xField], value, series: multi ? `${r.config} ${other}` : r.config }];
    });
    // No store server of the lab's in any run: no store CPU to draw.
    if (values.length === 0) return [];
    return {
      id: `${axis}-${field}`,
      title: `${title} (${unit}) by ${xTitle}`,
      spec: {
        config: CONFIG,
        width: 250,
        height: 160,
        title: `${title} (${unit}) by ${xTitle}`,
        data: { values },
        mark: { type: 'line', point: true },
        encoding: {
          x: {
            field: 'x',
            type: 'quantitative',
            title: xTitle,
            axis: { format: 'd', tickMinStep: 1 },
            ...(axis === 'size' ? { scale: { type: 'symlog' } } : {}),
          },
          y: { field: 'value', type: 'quantitative', title: unit },
          color: { field: 'series', type: 'nominal', title: null, legend: { orient: 'bottom', columns: 2 } },
        },
      } as TopLevelSpec,
    };
  });
}
