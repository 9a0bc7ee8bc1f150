import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { ProxyKind } from '../cluster-options.js';
import { resolveApp } from './app-module.js';
import { LAB_DEFAULTS, type LabOptions } from './options.js';
import { Progress, type ProgressSink } from './progress.js';
import {
  machineInfo,
  REPORT_SCHEMA,
  runLabel,
  skippedRun,
  type LabReport,
  type RunReport,
} from './report.js';
import { reportHtml } from './report-html.js';
import { reportMarkdown } from './report-md.js';
import { cellGroups, type Cell, type CellGroup } from './cell-groups.js';
import { openConfigCluster } from './config-cluster.js';
import { runConfig, type RunConfigOptions } from './run-config.js';
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
 * `stateline lab`: runs every config in turn on a local cluster under virtual users that run the
 * app module's `workload` export, and the fault schedule, and returns (and by default writes) the
 * report. With `--scale` or `--state-size` a config's cells share one cluster where they can (see
 * {@link cellGroups}): it starts once, gains instances for each larger count, and every cell signs
 * in users of its own, so the cells stay independent without a start per cell. The app defaults to {@link resolveApp}'s (`STATELINE_APP`, else
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
  const groups = o.configs.flatMap((config) =>
    proxies.flatMap((proxy) => cellGroups(config, proxy, counts, sizes, o.net !== undefined)),
  );
  const progress = o.progress
    ? new Progress(
        o.progress,
        groups.reduce((n, g) => n + g.cells.length, 0),
      )
    : null;
  const runs: RunReport[] = [];
  const stdio = process.env.STATELINE_LAB_STDIO === 'inherit' ? 'inherit' : 'ignore';
  const run = (
    g: CellGroup,
    cell: Cell,
    extra: Pick<RunConfigOptions, 'cluster' | 'userOffset'>,
  ): Promise<RunReport> =>
    runConfig({
      proxy: g.proxy,
      config: g.config,
      app,
      workload: workloads.get(g.config.workload)!,
      durationMs: options.durationMs,
      users: options.users,
      instances: cell.instances,
      stateSize: cell.stateSize,
      label: runLabel(
        { config: g.config.name, instances: cell.instances, stateSize: cell.stateSize },
        options,
      ),
      faults: options.faults,
      seed,
      postgres: o.postgres ?? LAB_DEFAULTS.postgres,
      stdio,
      ...extra,
      ...(o.env ? { env: o.env } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
      ...(o.net ? { net: o.net } : {}),
      ...(progress ? { onProgress: (p) => progress.update(p) } : {}),
    });
  try {
    for (const g of groups) {
      if (o.signal?.aborted) break;
      const workload = workloads.get(g.config.workload)!;
      // One cell alone, or a workload that cannot drive this config (runConfig says why): no kept cluster.
      const keep = g.cells.length > 1 && (workload.credentials ?? ['cookie']).includes(g.config.credentials);
      const kept = keep
        ? await openConfigCluster({
            config: g.config,
            app,
            workload,
            slots: Math.max(...g.cells.map((c) => c.instances)),
            start: g.cells[0]!.instances,
            // Each cell signs in users of its own: the app seeds them all once.
            seededUsers: options.users * g.cells.length,
            postgres: o.postgres ?? LAB_DEFAULTS.postgres,
            proxy: g.proxy,
            relayStore: options.faults.includes('latency') && !g.config.switchTo,
            stdio,
            ...(o.env ? { env: o.env } : {}),
            ...(o.net ? { net: o.net } : {}),
          })
        : undefined;
      try {
        for (const [k, cell] of g.cells.entries()) {
          if (o.signal?.aborted) break;
          const row =
            kept && 'skipped' in kept
              ? skippedRun(g.config, kept.skipped, cell, g.proxy)
              : await run(g, cell, kept ? { cluster: kept, userOffset: k * options.users } : {});
          // The first cell on a kept cluster waited for its start.
          if (kept && !('skipped' in kept) && k === 0 && row.startupMs !== null)
            row.startupMs += kept.startupMs;
          runs.push(row);
          if (row.skipped !== null) progress?.note(`${runLabel(row, options)}: skipped (${row.skipped})`);
        }
      } finally {
        if (kept && !('skipped' in kept)) await kept.close();
      }
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
