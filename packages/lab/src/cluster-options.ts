import { existsSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { busOptionsFromSpec } from 'stateline/bus';
import { storeOptionsFromSpec } from 'stateline/store';

export const BALANCES = ['round-robin', 'least-conn', 'sticky', 'hash'] as const;
export const STRATEGIES = ['server', 'token', 'memory', 'hybrid'] as const;
export const REPLICATIONS = ['off', 'backup', 'all'] as const;
/** What clients reach: the built-in gateway, or HAProxy or nginx with the exported configuration. */
export const PROXIES = ['builtin', 'haproxy', 'nginx'] as const;
/** More would only fight over the machine's cores; a lab cluster is for watching, not for load. */
export const MAX_INSTANCES = 64;

export type BalancePolicy = (typeof BALANCES)[number];
export type StrategyName = (typeof STRATEGIES)[number];
export type Replication = (typeof REPLICATIONS)[number];
export type ProxyKind = (typeof PROXIES)[number];

/** `stateline up`'s options with defaults applied (see docs/lab.md). */
/** Where the instances of a cluster run: see {@link ClusterOptions.placement}. */
export interface InstancePlacement {
  wrap(id: string): readonly string[];
  hostOf(id: string): string;
}

export interface ClusterOptions {
  /** App module path (default: `STATELINE_APP`, else `stateline.app` in ./package.json: see resolveApp). */
  app?: string;
  /** Default 3. */
  instances: number;
  /** Gateway port; 0 picks a free one (default 8080). */
  port: number;
  /** Gateway host (default `127.0.0.1`). Instances always listen on 127.0.0.1. */
  host: string;
  /** `'haproxy'`/`'nginx'`: it listens on `port`/`host`, the gateway keeps the control API (default `'builtin'`). */
  proxy?: ProxyKind;
  strategy: StrategyName;
  store: string;
  bus: string;
  balance: BalancePolicy;
  replication: Replication;
  /** The gateway's request body limit in bytes: larger bodies get 413 from the gateway (default 1 MiB). */
  maxBodyBytes: number;
  /** When set, the control API needs `Authorization: Bearer <token>`; otherwise loopback clients only. */
  adminToken?: string | undefined;
  /** Session keys for every instance (default `STATELINE_SESSION_KEYS`, else one generated per run). */
  sessionKeys?: string[];
  /** Token key seeds for every instance (default `STATELINE_TOKEN_KEYS`, else one generated per run). */
  tokenKeys?: string[];
  /** What the instances' output does (default `'inherit'`). */
  stdio?: 'inherit' | 'ignore';
  /**
   * Where each instance runs (default: this host's loopback): a command prefix to start it under
   * (`ip netns exec <ns>`) and the address it listens on. The lab's `--network netns` sets it.
   */
  placement?: InstancePlacement;
  /** Extra environment for every instance (e.g. an app's own settings); the cluster's settings win. */
  env?: Record<string, string | undefined>;
}

export const CLUSTER_DEFAULTS = {
  instances: 3,
  port: 8080,
  host: '127.0.0.1',
  strategy: 'server',
  store: 'sqlite:.stateline/state.db',
  bus: 'ipc:',
  balance: 'round-robin',
  replication: 'off',
  maxBodyBytes: 1_048_576,
} as const satisfies Omit<ClusterOptions, 'app'>;

/** An option value that cannot be used; its message is one line for the command line. */
export class OptionError extends Error {
  override readonly name = 'OptionError';
}

function integer(raw: string, name: string, min: number, max: number): number {
  const n = /^\d+$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max)
    throw new OptionError(`${name} must be a whole number from ${min} to ${max} (got "${raw}")`);
  return n;
}

/**
 * `--instances`: 1 to {@link MAX_INSTANCES}.
 *
 * @example
 * ```ts
 * parseInstances('3'); // 3
 * ```
 */
export function parseInstances(raw: string): number {
  return integer(raw, '--instances', 1, MAX_INSTANCES);
}

/**
 * `--port`: 0 (any free port) to 65535.
 *
 * @example
 * ```ts
 * parsePort('0'); // 0
 * ```
 */
export function parsePort(raw: string): number {
  return integer(raw, '--port', 0, 65535);
}

/**
 * `--max-body-bytes`: the gateway's request body limit, 1 byte to 1 GiB.
 *
 * @example
 * ```ts
 * parseMaxBodyBytes('65536'); // 65536
 * ```
 */
export function parseMaxBodyBytes(raw: string): number {
  return integer(raw, '--max-body-bytes', 1, 1_073_741_824);
}

/**
 * `--store`: a Store spec Stateline understands (checked here, opened by each instance).
 *
 * @example
 * ```ts
 * parseStore('redis://127.0.0.1:6379');
 * ```
 */
export function parseStore(raw: string): string {
  try {
    storeOptionsFromSpec(raw);
  } catch (err) {
    throw new OptionError(`--store: ${(err as Error).message}`);
  }
  return raw;
}

/**
 * `--bus`: a Bus spec Stateline understands.
 *
 * @example
 * ```ts
 * parseBus('ipc:');
 * ```
 */
export function parseBus(raw: string): string {
  try {
    busOptionsFromSpec(raw);
  } catch (err) {
    throw new OptionError(`--bus: ${(err as Error).message}`);
  }
  return raw;
}

/**
 * `--app`: an existing module file, resolved against the working directory.
 *
 * @example
 * ```ts
 * parseApp('./server.js'); // '/home/me/shop/server.js'
 * ```
 */
export function parseApp(raw: string, cwd = process.cwd()): string {
  const path = isAbsolute(raw) ? raw : resolve(cwd, raw);
  if (!existsSync(path) || !statSync(path).isFile()) throw new OptionError(`--app: no such file: ${raw}`);
  if (!/\.(c|m)?(j|t)sx?$/.test(path))
    throw new OptionError(`--app must be a .js, .mjs, .cjs or .ts module (got ${raw})`);
  return path;
}

/**
 * `--admin-token`: at least 16 visible characters, so it is not guessed.
 *
 * @example
 * ```ts
 * parseAdminToken('a-long-random-secret');
 * ```
 */
export function parseAdminToken(raw: string): string {
  if (!/^[\x21-\x7e]{16,}$/.test(raw))
    throw new OptionError('--admin-token must be at least 16 visible ASCII characters without spaces');
  return raw;
}

/**
 * Checks what no single option can: replication only means something for the memory strategy.
 *
 * @example
 * ```ts
 * checkCombination({ ...CLUSTER_DEFAULTS, strategy: 'memory', replication: 'backup' });
 * ```
 */
export function checkCombination(o: Pick<ClusterOptions, 'strategy' | 'replication'>): void {
  if (o.replication !== 'off' && o.strategy !== 'memory')
    throw new OptionError(`--replication ${o.replication} needs --strategy memory (got ${o.strategy})`);
}
