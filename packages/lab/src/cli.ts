import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Argument, Command, CommanderError, Option } from 'commander';
import {
  BALANCES,
  CLUSTER_DEFAULTS,
  OptionError,
  parseAdminToken,
  parseApp,
  parseBus,
  parseInstances,
  parseMaxBodyBytes,
  parsePort,
  parseStore,
  PROXIES,
  REPLICATIONS,
  STRATEGIES,
  type ProxyKind,
  checkCombination,
  type BalancePolicy,
  type ClusterOptions,
  type Replication,
  type StrategyName,
} from './cluster-options.js';
import { exportConfig, parseTargets, type ExportTarget } from './export-config.js';
import { exportKubernetes } from './export-kubernetes.js';
import { parseConfigs, type LabConfig } from './run/config.js';
import {
  LAB_DEFAULTS,
  parseDuration,
  parseFaults,
  parseNetwork,
  parsePostgresUrl,
  parseSeed,
  parseUsers,
  parseScale,
  parseStateSizes,
  type FaultKind,
  type LabNetwork,
} from './run/options.js';

interface ExportFlags {
  balance: BalancePolicy;
  instances: string[];
  port: number;
  maxBodyBytes: number;
  strategy: StrategyName;
  replication: Replication;
  image: string;
  replicas: number;
  ingressHost?: string;
  store?: string;
  bus?: string;
}

/** Where the CLI writes; tests pass their own. */
export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

const processIo: CliIo = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
};

/** One plain line for anything that went wrong: no stack, no help dump. */
function oneLine(message: string): string {
  return message
    .replace(/^error:\s*/i, '')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join(' ');
}

interface UpFlags {
  app?: string;
  instances: number;
  port: number;
  host: string;
  strategy: ClusterOptions['strategy'];
  store: string;
  bus: string;
  balance: BalancePolicy;
  replication: ClusterOptions['replication'];
  maxBodyBytes: number;
  adminToken?: string;
  proxy: ProxyKind;
}

function describeStartFailure(err: unknown, flags: UpFlags): string {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'EADDRINUSE')
    return `port ${flags.port} on ${flags.host} is in use: choose another with --port (0 picks a free one)`;
  if (e?.code === 'EADDRNOTAVAIL' || e?.code === 'ENOTFOUND') return `cannot listen on host ${flags.host}`;
  return oneLine(e instanceof Error ? e.message : String(err));
}

/** `stateline up`: runs until SIGINT/SIGTERM, then drains everything and exits 0 (a second signal stops waiting: 1). */
async function up(flags: UpFlags, io: CliIo): Promise<number> {
  checkCombination(flags);
  const { resolveApp } = await import('./run/app-module.js');
  const app = flags.app ?? resolveApp();
  const { startCluster } = await import('./cluster.js');
  let signals = 0;
  let first: () => void = () => {};
  let second: () => void = () => {};
  const firstSignal = new Promise<void>((r) => (first = r));
  const secondSignal = new Promise<'forced'>((r) => (second = () => r('forced')));
  const onSignal = () => {
    signals++;
    if (signals === 1) first();
    else second();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    let cluster;
    try {
      // One console line per instance killed, stopped, crashed or restarted.
      cluster = await startCluster({
        ...flags,
        app,
        stdio: 'inherit',
        onEvent: (e) => io.err(`stateline: ${new Date(e.t).toISOString().slice(11, 19)} ${e.text}\n`),
      });
    } catch (err) {
      io.err(`stateline: ${describeStartFailure(err, flags)}\n`);
      return 1;
    }
    if (signals === 0) io.out(`${cluster.url}\n`);
    if (cluster.external)
      io.err(
        `stateline: ${flags.proxy} listens there; control API and dashboard: ${cluster.controlUrl}/_stateline\n`,
      );
    await firstSignal;
    const outcome = await Promise.race([cluster.close().then(() => 'closed' as const), secondSignal]);
    if (outcome === 'closed') return 0;
    cluster.supervisor.killAll();
    await cluster.external?.close().catch(() => {});
    await cluster.gateway.close().catch(() => {});
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

interface LabFlags {
  configs: LabConfig[];
  duration: number;
  users: number;
  instances: number;
  scale?: number[];
  stateSize?: number[];
  faults: FaultKind[];
  out: string;
  seed?: number;
  app?: string;
  postgres: string;
  network: LabNetwork;
  proxy: ProxyKind;
}

/**
 * `stateline lab`: 0 when every config ran or was skipped with its reason, 1 when a strategy
 * switch lost a session or an update, 130 when interrupted.
 */
async function lab(flags: LabFlags, io: CliIo, argv: readonly string[]): Promise<number> {
  const { labTopology, runLabInNetns } = await import('./netns/lab-network.js');
  const net = flags.network === 'netns' ? labTopology() : null;
  // Outside the namespaces: make them, run this command again inside, remove them.
  if (flags.network === 'netns' && net === null)
    return runLabInNetns(flags.instances, [
      fileURLToPath(new URL('../bin/stateline.js', import.meta.url)),
      ...argv,
    ]);
  const { runLab } = await import('./run/run-lab.js');
  const { resolveApp } = await import('./run/app-module.js');
  const { textTable } = await import('./run/table.js');
  const app = flags.app ?? resolveApp();
  const controller = new AbortController();
  let signals = 0;
  const onSignal = () => {
    // The first asks for a clean stop with a partial report; a second one does not wait.
    if (++signals > 1) process.exit(130);
    io.err('\nstateline lab: stopping (clusters closed, partial report written); Ctrl-C again to quit now\n');
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const report = await runLab({
      configs: flags.configs,
      durationMs: flags.duration,
      users: flags.users,
      instances: flags.instances,
      ...(flags.scale ? { scale: flags.scale } : {}),
      ...(flags.stateSize ? { stateSizes: flags.stateSize } : {}),
      faults: flags.faults,
      out: flags.out,
      app,
      postgres: flags.postgres,
      ...(net ? { net } : {}),
      proxy: flags.proxy,
      ...(flags.seed !== undefined ? { seed: flags.seed } : {}),
      signal: controller.signal,
      progress: { write: (t) => io.err(t), isTTY: io === processIo && process.stderr.isTTY === true },
    });
    io.out(textTable(report.runs));
    io.out(`\nseed ${report.seed} · report: ${flags.out}/report.json, report.md, report.html\n`);
    if (report.aborted) return 130;
    const failed = report.runs.filter((r) => r.switch && !r.switch.passed).map((r) => r.config);
    if (failed.length > 0) {
      io.err(`stateline lab: strategy switch failed (sessions or updates lost): ${failed.join(', ')}\n`);
      return 1;
    }
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** This package's version (src/ and dist/ both sit one level below its package.json). */
function version(): string {
  const pkg: unknown = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  return typeof pkg === 'object' && pkg !== null && 'version' in pkg && typeof pkg.version === 'string'
    ? pkg.version
    : 'unknown';
}

function program(io: CliIo, done: (code: number) => void, argv: readonly string[]): Command {
  const cmd = new Command('stateline')
    .description('Stateline: run and inspect horizontally scaled Node services locally.')
    .version(version(), '-V, --version', 'print the version of @stateline/lab and exit')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err, outputError: () => {} })
    .helpCommand(false);

  cmd
    .command('up')
    .description(
      'Run a local cluster: a gateway in front of N instances of an app, with a control API under /_stateline/. ' +
        'Prints the URL once every instance is up; Ctrl-C or SIGTERM drains and stops everything.',
    )
    .addOption(
      new Option(
        '--app <module>',
        'app module to run (default: $STATELINE_APP, else "stateline.app" in ./package.json)',
      ).argParser((v) => parseApp(v)),
    )
    .addOption(
      new Option('--instances <n>', 'number of instances, 1-64')
        .default(CLUSTER_DEFAULTS.instances)
        .argParser(parseInstances),
    )
    .addOption(
      new Option('--port <port>', 'gateway port (0: any free port)')
        .default(CLUSTER_DEFAULTS.port)
        .argParser(parsePort),
    )
    .addOption(new Option('--host <host>', 'gateway host').default(CLUSTER_DEFAULTS.host))
    .addOption(
      new Option('--strategy <strategy>', 'session strategy')
        .choices(STRATEGIES)
        .default(CLUSTER_DEFAULTS.strategy),
    )
    .addOption(
      new Option('--store <spec>', 'Store spec (sqlite:<path>, redis://…, postgres://…, memory:)')
        .default(CLUSTER_DEFAULTS.store)
        .argParser(parseStore),
    )
    .addOption(
      new Option('--bus <spec>', 'Bus spec (ipc:, redis://…, postgres://…, memory:)')
        .default(CLUSTER_DEFAULTS.bus)
        .argParser(parseBus),
    )
    .addOption(
      new Option('--balance <policy>', 'load-balancing policy')
        .choices(BALANCES)
        .default(CLUSTER_DEFAULTS.balance),
    )
    .addOption(
      new Option('--replication <mode>', 'memory strategy: copy sessions to other instances')
        .choices(REPLICATIONS)
        .default(CLUSTER_DEFAULTS.replication),
    )
    .addOption(
      new Option('--max-body-bytes <n>', 'largest request body the gateway forwards (413 above it)')
        .default(CLUSTER_DEFAULTS.maxBodyBytes)
        .argParser(parseMaxBodyBytes),
    )
    .addOption(
      new Option(
        '--admin-token <token>',
        'require Authorization: Bearer <token> on the control API (default: loopback clients only)',
      ).argParser(parseAdminToken),
    )
    .addOption(
      new Option(
        '--proxy <proxy>',
        'what clients reach on --port: the built-in gateway, or HAProxy (/usr/sbin/haproxy) or nginx (/usr/sbin/nginx) with the exported configuration',
      )
        .choices(PROXIES)
        .default('builtin'),
    )
    .action(async (flags: UpFlags) => done(await up(flags, io)));

  cmd
    .command('lab')
    .description(
      'Measure session strategies on a real local cluster: scripted virtual users, an instance killed and ' +
        'restarted (and the store server restarted), then a table and report.json/md/html in --out.',
    )
    .addOption(
      new Option(
        '--configs <list>',
        'comma-separated configs (strategy[/store][/bus][/balance][/replication][/bearer]) or all; first>second ' +
          '(e.g. token>server) switches every instance from first to second by a rolling restart under load; ' +
          "entities[/store] runs the app's workloads.entities and kills the owner its victim names",
      )
        .default(parseConfigs(LAB_DEFAULTS.configs), LAB_DEFAULTS.configs)
        .argParser(parseConfigs),
    )
    .addOption(
      new Option('--duration <time>', 'load per config: 30s, 2m, 2500ms (2s to 60m)')
        .default(parseDuration(LAB_DEFAULTS.duration), LAB_DEFAULTS.duration)
        .argParser(parseDuration),
    )
    .addOption(
      new Option('--users <n>', 'virtual users per config, 1-1000')
        .default(LAB_DEFAULTS.users)
        .argParser(parseUsers),
    )
    .addOption(
      new Option('--instances <n>', 'instances per cluster, 1-64')
        .default(LAB_DEFAULTS.instances)
        .argParser(parseInstances),
    )
    .addOption(
      new Option(
        '--scale <list>',
        'run each config at each instance count (e.g. 1,2,4,8) instead of --instances; reports throughput, p99 and CPU per count',
      ).argParser(parseScale),
    )
    .addOption(
      new Option(
        '--state-size <list>',
        "run each config at each state size per user (e.g. 1,10,100: entries in the shop session's recently viewed list, up to 100); reports bytes/request, store ops/request, req/s and p99 per size",
      ).argParser(parseStateSizes),
    )
    .addOption(
      new Option(
        '--faults <list>',
        'kill, restart, store-restart, partition, latency (comma-separated), or none',
      )
        .default(parseFaults(LAB_DEFAULTS.faults), LAB_DEFAULTS.faults)
        .argParser(parseFaults),
    )
    .addOption(
      new Option('--out <dir>', 'where report.json, report.md and report.html go').default(LAB_DEFAULTS.out),
    )
    .addOption(
      new Option('--seed <n>', 'seed of the virtual users (default: random, printed)').argParser(parseSeed),
    )
    .addOption(
      new Option(
        '--app <module>',
        'app module to measure, exporting a workload (default: $STATELINE_APP, else "stateline.app" in ./package.json)',
      ).argParser((v) => parseApp(v)),
    )
    .addOption(
      new Option('--postgres <url>', 'PostgreSQL for the postgres configs')
        .default(LAB_DEFAULTS.postgres)
        .argParser(parsePostgresUrl),
    )
    .addOption(
      new Option(
        '--network <kind>',
        'loopback, or netns: a Linux network namespace per instance, store and gateway (root; enables the partition and latency faults)',
      )
        .default('loopback')
        .argParser(parseNetwork),
    )
    .addOption(
      new Option(
        '--proxy <proxy>',
        'haproxy|nginx: run every config through the built-in gateway and through that proxy, a report row each',
      )
        .choices(PROXIES)
        .default('builtin'),
    )
    .action(async (flags: LabFlags, command: Command) => {
      // A capacity curve measures the cluster, not its failover: no faults unless asked for.
      const axes = flags.scale !== undefined || flags.stateSize !== undefined;
      if (axes && command.getOptionValueSource('faults') === 'default') flags.faults = [];
      done(await lab(flags, io, argv));
    });

  cmd
    .command('export')
    .description(
      'Print the production configuration equivalent to `stateline up`: HAProxy or nginx in front of ' +
        'the instances, or Kubernetes manifests for the app (Deployment, Service, Ingress, PodDisruptionBudget).',
    )
    .addArgument(new Argument('<target>', 'what to write').choices(['haproxy', 'nginx', 'kubernetes']))
    .addOption(
      new Option('--balance <policy>', 'load-balancing policy')
        .choices(BALANCES)
        .default(CLUSTER_DEFAULTS.balance),
    )
    .addOption(
      new Option('--instances <list>', 'comma-separated host:port of the instances')
        .default(
          ['127.0.0.1:3001', '127.0.0.1:3002', '127.0.0.1:3003'],
          '127.0.0.1:3001,127.0.0.1:3002,127.0.0.1:3003',
        )
        .argParser(parseTargets),
    )
    .addOption(
      new Option('--port <port>', 'port the proxy listens on')
        .default(CLUSTER_DEFAULTS.port)
        .argParser(parsePort),
    )
    .addOption(
      new Option('--max-body-bytes <n>', 'largest request body the proxy forwards (413 above it)')
        .default(CLUSTER_DEFAULTS.maxBodyBytes)
        .argParser(parseMaxBodyBytes),
    )
    .addOption(
      new Option('--strategy <strategy>', 'kubernetes: session strategy of the pods')
        .choices(STRATEGIES)
        .default(CLUSTER_DEFAULTS.strategy),
    )
    .addOption(
      new Option('--replication <mode>', 'kubernetes: memory-session replication')
        .choices(REPLICATIONS)
        .default(CLUSTER_DEFAULTS.replication),
    )
    .addOption(new Option('--image <ref>', 'kubernetes: the app image').default('stateline-shop:latest'))
    .addOption(new Option('--replicas <n>', 'kubernetes: pod count').default(3).argParser(parseInstances))
    .addOption(new Option('--ingress-host <name>', 'kubernetes: the Ingress host (default: any)'))
    .addOption(
      new Option('--store <spec>', 'kubernetes: also write the Secret, with this Store spec').argParser(
        parseStore,
      ),
    )
    .addOption(new Option('--bus <spec>', 'kubernetes: the Bus spec in that Secret').argParser(parseBus))
    .action((target: ExportTarget | 'kubernetes', flags: ExportFlags) => {
      if (target !== 'kubernetes') {
        io.out(exportConfig(target, flags));
        return done(0);
      }
      const secret = flags.store && {
        store: flags.store,
        bus: flags.bus ?? flags.store,
        sessionKeys: randomBytes(32).toString('base64url'),
      };
      io.out(
        exportKubernetes({
          strategy: flags.strategy,
          balance: flags.balance,
          replication: flags.replication,
          image: flags.image,
          replicas: flags.replicas,
          host: flags.ingressHost,
          maxBodyBytes: flags.maxBodyBytes,
          ...(secret ? { secret } : {}),
        }),
      );
      done(0);
    });
  return cmd;
}

/**
 * Runs the `stateline` command line and resolves with the exit code: 0 when done (for `up`,
 * after a signal stopped the cluster), 2 for unknown or invalid options (one line on stderr),
 * 1 when something failed at run time.
 *
 * @example
 * ```ts
 * process.exit(await main(['up', '--instances', '3', '--port', '0']));
 * ```
 */
export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  if (argv.length === 0) {
    io.err('stateline: missing command (try: stateline up, stateline export haproxy, stateline --help)\n');
    return 2;
  }
  let code = 0;
  try {
    await program(io, (c) => (code = c), argv).parseAsync([...argv], { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return 0;
      io.err(`stateline: ${oneLine(err.message)}\n`);
      return 2;
    }
    if (err instanceof OptionError) {
      io.err(`stateline: ${oneLine(err.message)}\n`);
      return 2;
    }
    io.err(`stateline: ${oneLine(err instanceof Error ? err.message : String(err))}\n`);
    return 1;
  }
}
