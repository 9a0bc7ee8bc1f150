import { runLabel, type LabReport, type RunReport } from './report.js';

const BOTTLENECK: Record<string, string> = {
  'host-cpu': "the host's CPUs",
  store: 'the store server (one core)',
  gateway: "the lab's gateway and users (one core)",
  none: 'nothing saturated',
};

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits });

function best<T>(items: readonly T[], score: (x: T) => number | null, low: boolean): T | null {
  let out: T | null = null;
  let top = 0;
  for (const x of items) {
    const v = score(x);
    if (v === null) continue;
    if (out === null || (low ? v < top : v > top)) [out, top] = [x, v];
  }
  return out;
}

/**
 * "Which config should I choose for what", in at most five sentences with this run's figures:
 * the most throughput, the lowest p99, the fewest sessions lost to the faults, how bytes per
 * request grow with the state (a `--state-size` run) and how throughput grows with instances
 * (a `--scale` run, with what capped it), or the least CPU per request otherwise.
 *
 * @example
 * ```ts
 * summaryLines(report); // ['For throughput: `token ×4` (1,234 req/s).', …]
 * ```
 */
export function summaryLines(report: LabReport): string[] {
  const o = report.options;
  const ran = report.runs.filter((r) => r.skipped === null);
  if (ran.length === 0) return ['No config ran: see the skipped list below.'];
  const name = (r: RunReport) => `\`${runLabel(r, o)}\``;
  const lines: string[] = [];
  const fast = best(ran, (r) => r.throughput, false)!;
  lines.push(`For throughput: ${name(fast)} (${fmt(fast.throughput!)} req/s).`);
  const quick = best(ran, (r) => r.latencyMs?.p99 ?? null, true)!;
  lines.push(`For latency: ${name(quick)} (p99 ${fmt(quick.latencyMs!.p99, 1)} ms).`);
  const configs = [...new Set(ran.map((r) => r.config))];
  const lostBy = configs.map((c) => ({
    c,
    lost: ran.filter((r) => r.config === c).reduce((a, r) => a + (r.sessionsLost ?? 0), 0),
  }));
  const safest = best(lostBy, (x) => x.lost, true)!;
  const worst = best(lostBy, (x) => x.lost, false)!;
  const kinds = o.faults.length ? o.faults.join(', ') : 'no fault';
  lines.push(
    worst.lost === safest.lost
      ? `To keep sessions (${kinds}): every config lost ${fmt(safest.lost)} over its runs.`
      : `To keep sessions through faults (${kinds}): \`${safest.c}\` (${fmt(safest.lost)} lost over its runs; worst \`${worst.c}\` with ${fmt(worst.lost)}).`,
  );
  if (o.stateSizes && o.stateSizes.length > 1) {
    const [small, large] = [o.stateSizes[0]!, o.stateSizes.at(-1)!];
    const growth = configs.flatMap((c) => {
      const at = (size: number) =>
        ran.find((r) => r.config === c && r.stateSize === size && r.instances === ran[0]!.instances);
      const a = at(small);
      const b = at(large);
      return a?.bytesPerRequest && b?.bytesPerRequest
        ? [{ c, a: a.bytesPerRequest, b: b.bytesPerRequest }]
        : [];
    });
    const most = best(growth, (g) => g.b - g.a, false);
    const least = best(growth, (g) => g.b - g.a, true);
    if (most && least)
      lines.push(
        most.c === least.c
          ? `As state grows from ${small} to ${large} items: \`${most.c}\` requests go from ${fmt(most.a)} to ${fmt(most.b)} B.`
          : `As state grows from ${small} to ${large} items: \`${most.c}\` requests grow most (${fmt(most.a)} → ${fmt(most.b)} B/request), \`${least.c}\` least (${fmt(least.a)} → ${fmt(least.b)} B).`,
      );
  }
  if (o.scale && o.scale.length > 1) {
    const [few, many] = [o.scale[0]!, o.scale.at(-1)!];
    const size = ran[0]!.stateSize;
    const curve = configs.flatMap((c) => {
      const at = (n: number) => ran.find((r) => r.config === c && r.instances === n && r.stateSize === size);
      const a = at(few);
      const b = at(many);
      return a?.throughput && b?.throughput ? [{ c, a: a.throughput, b: b.throughput, run: b }] : [];
    });
    const top = best(curve, (g) => g.b / g.a, false);
    // Every curve down (a saturated host): say so rather than name a "gain" below ×1.
    const gain =
      top && top.b > top.a
        ? `\`${top.c}\` gains most from ${few} to ${many} instances`
        : `no config gained from ${few} to ${many} instances; \`${top?.c}\` lost least`;
    if (top)
      lines.push(
        `To scale out: ${gain} (${fmt(top.a)} → ${fmt(top.b)} req/s, ×${fmt(top.b / top.a, 2)}); at ${many} the limit was ${BOTTLENECK[top.run.load?.bottleneck ?? 'none']} (host ${fmt((top.run.load?.hostBusy ?? 0) * 100)}% busy).`,
      );
  }
  if (lines.length < 5) {
    const lean = best(ran, (r) => r.cpuSecondsPer1k, true);
    if (lean)
      lines.push(
        `For CPU: ${name(lean)} (${fmt(lean.cpuSecondsPer1k!, 3)} instance CPU s per 1,000 requests).`,
      );
  }
  return lines.slice(0, 5);
}
