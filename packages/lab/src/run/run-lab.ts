import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { ProxyKind } from '../cluster-options.js';
import { resolveApp } from './app-module.js';
import { LAB_DEFAULTS, type LabOptions } from './options.js';
import { Progress, type ProgressSink } from './progress.js';
import { machineInfo, REPORT_SCHEMA, runLabel, type LabReport, type RunReport } from './report.js';
import { reportHtml } from './report-html.js';
import { reportMarkdown } from './report-md.js';
import { runConfig } from './run-config.js';
import type { NetTopology } from '../netns/topology.js';
import type { Workload } from 'stateline/instance';
import { loadWorkload } from './workload-module.js';

/** Options of {@link runLab}: the command line's, plus what a caller in code may set. */
export interface RunLabOptions extends Partial<Omit<LabOptions, 'configs'>> {
  configs: LabOptions['configs'];
  /** Extra environment for every instance of every config. */
  env?: Record<string, string>;
  /** Aborting ends the current config's load at once and runs no further config. */
  signal?: AbortSignal;
  /** The live display (default: none). */
  progress?: ProgressSink;
  /** Write report.json/md/html into `out` (default true). */
  write?: boolean;
  /** `--network netns`: the topology the clusters run in (see `runConfig`'s `net`). */
  net?: NetTopology;
  /**
   * `'haproxy'` or `'nginx'`: every config runs twice, through the built-in gateway and then
   * through that proxy with the exported configuration, a row each (default `'builtin'`: once).
   */
  proxy?: ProxyKind;
}

/**
 * Writes `report.json`, `report.md` and `report.html` into `dir` (created if needed).
 *
 * @example
 * ```ts
 * await writeReport(report, 'lab-report');
 * ```
 */
export async function writeReport(report: LabReport, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'report.json'), JSON.stringify(report, null, 2) + '\n');
  await writeFile(join(dir, 'report.md'), reportMarkdown(report));
  await writeFile(join(dir, 'report.html'), await reportHtml(report));
}

/**
 * `stateline lab`: runs every config in turn on a fresh local cluster under virtual users that
 * run the app module's `workload` export, and the fault schedule, and returns (and by default
 * writes) the report. The app defaults to {@link resolveApp}'s (`STATELINE_APP`, else
 * `stateline.app` in the working directory's package.json); an app that exports no workload is
 * refused with one line before anything starts. When `signal` aborts, the current config stops
 * where it is, no further config runs, and the report written is marked `aborted`.
 *
 * @example
 * ```ts
 * import { runLab, parseConfigs } from '@stateline/lab';
 * const report = await runLab({ configs: parseConfigs('server/sqlite,token'), durationMs: 20_000, out: 'lab-report' });
 * console.log(report.runs.map((r) => [r.config, r.sessionsLost]));
 * ```
 */
export async function runLab(o: RunLabOptions): Promise<LabReport> {
  const app = o.app ?? resolveApp();
  // Every workload the configs need, loaded before anything starts (a missing one is refused at once).
  const workloads = new Map<string | null, Workload<unknown>>();
  for (const c of o.configs)
    if (!workloads.has(c.workload))
      workloads.set(c.workload, await loadWorkload(app, c.workload ?? undefined));
  const seed = o.seed ?? Math.floor(Math.random() * 0x100000000);
  const options: LabReport['options'] = {
    configs: o.configs.map((c) => c.name),
    durationMs: o.durationMs ?? 30_000,
    users: o.users ?? LAB_DEFAULTS.users,
    instances: o.instances ?? LAB_DEFAULTS.instances,
    scale: o.scale ?? null,
    stateSizes: o.stateSizes ?? null,
    faults: o.faults ?? ['kill', 'restart', 'store-restart'],
    seed,
    app,
    out: o.out ?? LAB_DEFAULTS.out,
  };
  const startedAt = new Date().toISOString();
  // Every config at every instance count and every state size, in that order; each through the
  // built-in gateway and then, with `--proxy`, through that proxy.
  const proxies: ProxyKind[] = o.proxy && o.proxy !== 'builtin' ? ['builtin', o.proxy] : ['builtin'];
  const counts = options.scale ?? [options.instances];
  const sizes: (number | null)[] = options.stateSizes ?? [null];
  const plan = o.configs.flatMap((config) =>
    counts.flatMap((instances) => sizes.map((stateSize) => ({ config, instances, stateSize }))),
  );
  const progress = o.progress ? new Progress(o.progress, plan.length * proxies.length) : null;
  const runs: RunReport[] = [];
  const stdio = process.env.STATELINE_LAB_STDIO === 'inherit' ? 'inherit' : 'ignore';
  try {
    for (const [{ config, instances, stateSize }, proxy] of plan.flatMap((p) =>
      proxies.map((x) => [p, x] as const),
    )) {
      if (o.signal?.aborted) break;
      const run = await runConfig({
        proxy,
        config,
        app,
        workload: workloads.get(config.workload)!,
        durationMs: options.durationMs,
        users: options.users,
        instances,
        stateSize,
        label: runLabel({ config: config.name, instances, stateSize }, options),
        faults: options.faults,
        seed,
        postgres: o.postgres ?? LAB_DEFAULTS.postgres,
        stdio,
        ...(o.env ? { env: o.env } : {}),
        ...(o.signal ? { signal: o.signal } : {}),
        ...(o.net ? { net: o.net } : {}),
        ...(progress ? { onProgress: (p) => progress.update(p) } : {}),
      });
      runs.push(run);
      if (run.skipped !== null) progress?.note(`${runLabel(run, options)}: skipped (${run.skipped})`);
    }
  } finally {
    progress?.done();
  }
  const report: LabReport = {
    schema: REPORT_SCHEMA,
    startedAt,
    finishedAt: new Date().toISOString(),
    aborted: o.signal?.aborted === true,
    seed,
    machine: machineInfo(),
    options,
    runs,
  };
  if (o.write !== false) await writeReport(report, resolve(options.out));
  return report;
}
