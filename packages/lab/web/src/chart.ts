import { svg, el } from './dom.js';
import type { ClusterEvent } from '../../src/cluster-status.js';
import { niceMax, rates, type Point, type Sample } from './rates.js';

/** Seconds of history drawn. */
export const WINDOW_S = 60;
const W = 720;
const H = 240;
const PAD = { left: 44, right: 12, top: 12, bottom: 26 };
const COLORS = ['#2563eb', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#db2777', '#65a30d', '#7c3aed'];
const ERROR_COLOR = '#dc2626';

/** Each instance keeps the colour it was first given. */
const colors = new Map<string, string>();

function colorOf(id: string): string {
  let c = colors.get(id);
  if (c === undefined) {
    c = COLORS[colors.size % COLORS.length] ?? ERROR_COLOR;
    colors.set(id, c);
  }
  return c;
}

/** One series: its line on the chart (once it has a point) and its entry in the legend. */
function drawSeries(
  chart: SVGSVGElement,
  legend: HTMLElement,
  series: { id: string; label: string; color: string; dashed: boolean; points: readonly Point[] },
  x: (t: number) => number,
  y: (v: number) => number,
  since: number,
): void {
  const shown = series.points.filter((p) => p[0] >= since);
  if (shown.length > 0) {
    const line = svg('polyline', {
      points: shown.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' '),
      fill: 'none',
      stroke: series.color,
      'stroke-width': 2,
      'stroke-linejoin': 'round',
      'data-series': series.id,
    });
    if (series.dashed) line.setAttribute('stroke-dasharray', '5 3');
    chart.append(line);
  }
  const swatch = svg('svg', { viewBox: '0 0 22 10' });
  const mark = svg('line', { x1: 1, x2: 21, y1: 5, y2: 5, stroke: series.color, 'stroke-width': 3 });
  if (series.dashed) mark.setAttribute('stroke-dasharray', '5 3');
  swatch.append(mark);
  const latest = series.points.at(-1)?.[1] ?? 0;
  const li = el('li');
  li.append(swatch, document.createTextNode(`${series.label} ${latest.toFixed(1)}/s`));
  legend.append(li);
}

/**
 * Redraws the chart (inline SVG): requests per second of each instance in `ids` and errors per
 * second of all of them (dashed), over the last {@link WINDOW_S} seconds of `samples`, with a
 * dotted vertical line at each of `events` (an instance down or back up).
 *
 * @example
 * ```ts
 * drawChart(byId('chart', SVGSVGElement), byId('legend', HTMLUListElement), samples, ['i1', 'i2']);
 * ```
 */
export function drawChart(
  chart: SVGSVGElement,
  legend: HTMLElement,
  samples: readonly Sample[],
  ids: readonly string[],
  events: readonly ClusterEvent[] = [],
): void {
  chart.textContent = '';
  legend.textContent = '';
  const r = rates(samples, ids);
  let top = 0;
  for (const points of [...r.served.values(), r.errors]) for (const p of points) top = Math.max(top, p[1]);
  const max = niceMax(top);
  const now = samples.at(-1)?.t ?? Date.now();
  const since = now - WINDOW_S * 1000;
  const x = (t: number) => PAD.left + ((t - since) / (WINDOW_S * 1000)) * (W - PAD.left - PAD.right);
  const y = (v: number) => PAD.top + (1 - v / max) * (H - PAD.top - PAD.bottom);
  for (const f of [0, 0.5, 1]) {
    chart.append(
      svg('line', { class: 'grid', x1: PAD.left, x2: W - PAD.right, y1: y(max * f), y2: y(max * f) }),
    );
    const label = svg('text', { x: PAD.left - 6, y: y(max * f) + 4, 'text-anchor': 'end' });
    label.textContent = String(Math.round(max * f * 10) / 10);
    chart.append(label);
  }
  for (const [ago, anchor] of [
    [-60, 'start'],
    [-30, 'middle'],
    [0, 'end'],
  ] as const) {
    const label = svg('text', { x: x(now + ago * 1000), y: H - 8, 'text-anchor': anchor });
    label.textContent = ago === 0 ? 'now' : `${ago} s`;
    chart.append(label);
  }
  for (const [id, points] of r.served) {
    drawSeries(chart, legend, { id, label: id, color: colorOf(id), dashed: false, points }, x, y, since);
  }
  for (const e of events) {
    if (e.t < since || e.t > now) continue;
    const at = x(e.t);
    chart.append(
      svg('line', {
        class: `event ${e.kind}`,
        x1: at,
        x2: at,
        y1: PAD.top,
        y2: H - PAD.bottom,
        'data-testid': `event-${e.id}-${e.kind}`,
      }),
    );
    const label = svg('text', { class: 'event-label', x: at + 3, y: PAD.top + 10 });
    label.textContent = `${e.id} ${e.kind}`;
    chart.append(label);
  }
  const errors = { id: 'errors', label: 'errors', color: ERROR_COLOR, dashed: true, points: r.errors };
  drawSeries(chart, legend, errors, x, y, since);
}
