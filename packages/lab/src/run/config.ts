import {
  BALANCES,
  OptionError,
  REPLICATIONS,
  STRATEGIES,
  type BalancePolicy,
  type Replication,
  type StrategyName,
} from '../cluster-options.js';

/**
 * Where a config keeps its records: users, orders, and sessions for `server`/`hybrid`. `memcached`
 * holds sessions only (a cache may evict them), beside a fresh SQLite file for everything else.
 */
export const LAB_STORES = ['sqlite', 'redis', 'redis-cluster', 'postgres', 'memcached'] as const;
export type LabStore = (typeof LAB_STORES)[number];

/** What carries messages between instances (and the chat's history with `nats`). */
export const LAB_BUSES = ['ipc', 'nats'] as const;
export type LabBus = (typeof LAB_BUSES)[number];

/**
 * Configs named after a workload the app exports in `workloads` instead of a strategy: the users
 * run that workload (sessions on the `server` strategy). `entities`: the app's stateful entities
 * (`stateline/entities`), whose owner the `kill` fault hits.
 */
export const LAB_WORKLOADS = ['entities'] as const;
export type LabWorkload = (typeof LAB_WORKLOADS)[number];

/** What the virtual users authenticate with: the session cookie (default) or bearer tokens. */
export const LAB_CREDENTIALS = ['cookie', 'bearer'] as const;
export type LabCredentials = (typeof LAB_CREDENTIALS)[number];

/** One configuration the lab measures: `strategy[/store][/bus][/balance][/replication][/credentials]`. */
export interface LabConfig {
  /** The name as written, e.g. `memory/sticky/backup`. */
  name: string;
  strategy: StrategyName;
  store: LabStore;
  /** `ipc` (default): the supervisor relays; `nats`: Bus and chat Log on a NATS JetStream server. */
  bus: LabBus;
  balance: BalancePolicy;
  replication: Replication;
  /** The app's `workloads[name]` the users run (an `entities` config), or null for its `workload`. */
  workload: LabWorkload | null;
  /** `bearer`: the users call the app with tokens they log in for and refresh (the workload's part). */
  credentials: LabCredentials;
  /**
   * `first>second`: the configuration a rolling restart switches every instance to under load
   * (the run's own fields are the first one's); null for an ordinary config.
   */
  switchTo: LabConfig | null;
}

/** What `--configs all` runs, in this order. */
export const ALL_CONFIGS = [
  'memory/round-robin',
  'memory/sticky',
  'memory/sticky/backup',
  'server/sqlite',
  'server/redis',
  'server/postgres',
  'token',
  'hybrid/redis',
  'server/bearer',
] as const;

const has = <T extends string>(list: readonly T[], v: string): v is T =>
  (list as readonly string[]).includes(v);

/**
 * Parses a config name. The first segment is the session strategy; each further segment is
 * recognised by its vocabulary and may appear once: a store (`sqlite`, `redis`, `redis-cluster`,
 * `postgres`, `memcached`; on `redis-cluster` the Bus and the shop's chat Log are on the cluster
 * too, unless a bus segment says otherwise), a bus (`ipc`, `nats`), a balance policy
 * (`round-robin`, `least-conn`, `sticky`, `hash`) or a replication mode (`backup`,
 * `all`) or the credentials (`cookie`, `bearer`: users get tokens from the app, call its API
 * with them and refresh them). Defaults: store `sqlite` (every strategy needs a durable Store for
 * users and orders), bus `ipc`, balance `round-robin`, replication `off`, credentials `cookie`.
 * Replication needs the `memory` strategy. A workload name ({@link LAB_WORKLOADS}) may stand in
 * place of the strategy: `entities/redis` runs the app's `workloads.entities` on the `server` strategy.
 *
 * @example
 * ```ts
 * parseConfig('memory/sticky/backup');
 * // { name: 'memory/sticky/backup', strategy: 'memory', store: 'sqlite', bus: 'ipc', balance: 'sticky', replication: 'backup', credentials: 'cookie' }
 * ```
 */
export function parseConfig(name: string): LabConfig {
  const parts = name.trim().split('/');
  const [first, ...rest] = parts;
  const workload = first !== undefined && has(LAB_WORKLOADS, first) ? first : null;
  const strategy = workload ? 'server' : first;
  if (!strategy || !has(STRATEGIES, strategy))
    throw new OptionError(
      `--configs: "${name}" must start with a strategy (${STRATEGIES.join(', ')}) or a workload (${LAB_WORKLOADS.join(', ')}); known configs: ${ALL_CONFIGS.join(', ')}`,
    );
  let store: LabStore | undefined;
  let bus: LabBus | undefined;
  let balance: BalancePolicy | undefined;
  let replication: Replication | undefined;
  let credentials: LabCredentials | undefined;
  for (const part of rest) {
    if (has(LAB_STORES, part) && store === undefined) store = part;
    else if (has(LAB_BUSES, part) && bus === undefined) bus = part;
    else if (has(BALANCES, part) && balance === undefined) balance = part;
    else if (has(REPLICATIONS, part) && part !== 'off' && replication === undefined) replication = part;
    else if (has(LAB_CREDENTIALS, part) && credentials === undefined) credentials = part;
    else
      throw new OptionError(
        `--configs: "${part}" in "${name}" is not a store (${LAB_STORES.join(', ')}), bus (${LAB_BUSES.join(', ')}), balance (${BALANCES.join(', ')}), replication (backup, all) or credentials (${LAB_CREDENTIALS.join(', ')}), or is given twice`,
      );
  }
  if (replication && strategy !== 'memory')
    throw new OptionError(`--configs: replication "${replication}" in "${name}" needs the memory strategy`);
  return {
    workload,
    name: parts.join('/'),
    strategy,
    store: store ?? 'sqlite',
    bus: bus ?? 'ipc',
    balance: balance ?? 'round-robin',
    replication: replication ?? 'off',
    credentials: credentials ?? 'cookie',
    switchTo: null,
  };
}

/**
 * Parses a config name or a strategy switch `first>second` (e.g. `token>server`,
 * `memory/sticky/backup>server`): the cluster starts with the first configuration and a rolling
 * restart moves each instance to the second. Both keep the cluster's Store and gateway, so the
 * second may not name another store, bus, balance policy or credentials than the first (it inherits them).
 *
 * @example
 * ```ts
 * const c = parseSwitch('memory/sticky/backup>server');
 * c.strategy; // 'memory'
 * c.switchTo?.strategy; // 'server'
 * c.switchTo?.balance; // 'sticky'
 * ```
 */
export function parseSwitch(name: string): LabConfig {
  const sides = name.split('>');
  if (sides.length === 1) return parseConfig(name);
  if (sides.length > 2)
    throw new OptionError(`--configs: "${name}" switches more than once (write first>second)`);
  const from = parseConfig(sides[0]!);
  const raw = parseConfig(sides[1]!);
  if (from.workload || raw.workload)
    throw new OptionError(`--configs: "${name}" switches a workload config; only strategies switch`);
  const segments = sides[1]!.trim().split('/').slice(1);
  for (const [field, value] of [
    ['store', raw.store],
    ['bus', raw.bus],
    ['balance', raw.balance],
  ] as const) {
    if (segments.includes(value) && value !== from[field])
      throw new OptionError(
        `--configs: "${name}" switches the ${field} (${from[field]} to ${value}); a switch keeps the first config's store, bus, balance and credentials`,
      );
  }
  if (raw.strategy === from.strategy && raw.replication === from.replication)
    throw new OptionError(`--configs: "${name}" switches to the same strategy and replication`);
  if (segments.includes(raw.credentials) && raw.credentials !== from.credentials)
    throw new OptionError(
      `--configs: "${name}" switches the credentials (${from.credentials} to ${raw.credentials}); a switch keeps the first config's`,
    );
  const to: LabConfig = {
    ...raw,
    store: from.store,
    bus: from.bus,
    balance: from.balance,
    credentials: from.credentials,
  };
  return { ...from, name: `${from.name}>${to.name}`, switchTo: to };
}

/**
 * Parses `--configs`: `all`, or a comma-separated list of config names or switches `first>second`
 * (duplicates refused).
 *
 * @example
 * ```ts
 * parseConfigs('token,server/sqlite').map((c) => c.name); // ['token', 'server/sqlite']
 * ```
 */
export function parseConfigs(raw: string): LabConfig[] {
  const text = raw.trim();
  if (text === 'all') return ALL_CONFIGS.map(parseConfig);
  const names = text.split(',').map((s) => s.trim());
  if (names.some((n) => n === '')) throw new OptionError(`--configs: empty name in "${raw}"`);
  const configs = names.map(parseSwitch);
  const seen = new Set<string>();
  for (const c of configs) {
    if (seen.has(c.name)) throw new OptionError(`--configs: "${c.name}" is listed twice`);
    seen.add(c.name);
  }
  return configs;
}
