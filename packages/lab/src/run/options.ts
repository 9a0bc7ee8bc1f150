import { OptionError } from '../cluster-options.js';
import type { LabConfig } from './config.js';

/** The faults the lab can inject (see docs/lab.md, "Faults"). */
export const FAULT_KINDS = ['kill', 'restart', 'store-restart', 'partition', 'latency'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** `stateline lab`'s options, parsed, with defaults applied. */
export interface LabOptions {
  configs: LabConfig[];
  /** Load per config, in ms. */
  durationMs: number;
  users: number;
  instances: number;
  /** `--scale`: run each config at each of these instance counts (instead of `instances`). */
  scale?: number[] | undefined;
  /** `--state-size`: run each config at each of these state sizes (the shop: recently viewed entries per session). */
  stateSizes?: number[] | undefined;
  faults: FaultKind[];
  /** Directory for report.json, report.md and report.html. */
  out: string;
  seed: number;
  /** The app module; undefined: `STATELINE_APP` or package.json's `stateline.app` (see resolveApp). */
  app?: string | undefined;
  /** PostgreSQL for the `postgres` configs. */
  postgres: string;
  /** `loopback` (default): every process on 127.0.0.1; `netns`: a network namespace per host. */
  network?: LabNetwork;
}

/** `--network`: where the cluster's processes live. */
export const LAB_NETWORKS = ['loopback', 'netns'] as const;
export type LabNetwork = (typeof LAB_NETWORKS)[number];

/**
 * `--network`: `loopback` or `netns`.
 *
 * @example
 * ```ts
 * parseNetwork('netns'); // 'netns'
 * ```
 */
export function parseNetwork(raw: string): LabNetwork {
  const v = raw.trim();
  if (!(LAB_NETWORKS as readonly string[]).includes(v))
    throw new OptionError(`--network must be ${LAB_NETWORKS.join(' or ')} (got "${raw}")`);
  return v as LabNetwork;
}

export const LAB_DEFAULTS = {
  configs: 'memory/round-robin,memory/sticky,memory/sticky/backup,server/sqlite,token',
  duration: '30s',
  users: 50,
  instances: 3,
  faults: 'kill,restart,store-restart',
  out: 'lab-report',
  postgres: 'postgres://postgres@127.0.0.1:5432/test',
} as const;

/** Shortest and longest load per config. */
const MIN_DURATION = 2_000;
const MAX_DURATION = 3_600_000;

/**
 * `--duration`: `20s`, `2m`, `2500ms`, or a bare number of seconds; 2 s to 60 min.
 *
 * @example
 * ```ts
 * parseDuration('20s'); // 20000
 * ```
 */
export function parseDuration(raw: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(raw.trim());
  const ms = m ? Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 'm' ? 60_000 : 1000) : NaN;
  if (!Number.isFinite(ms) || ms < MIN_DURATION || ms > MAX_DURATION)
    throw new OptionError(`--duration must be like 30s, 2m or 2500ms, from 2s to 60m (got "${raw}")`);
  return Math.round(ms);
}

function whole(raw: string, name: string, min: number, max: number): number {
  const n = /^\d+$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max)
    throw new OptionError(`${name} must be a whole number from ${min} to ${max} (got "${raw}")`);
  return n;
}

/**
 * `--users`: virtual users per config, 1 to 1000.
 *
 * @example
 * ```ts
 * parseUsers('50'); // 50
 * ```
 */
export function parseUsers(raw: string): number {
  return whole(raw, '--users', 1, 1000);
}

/**
 * `--seed`: 0 to 2^32 − 1.
 *
 * @example
 * ```ts
 * parseSeed('7'); // 7
 * ```
 */
export function parseSeed(raw: string): number {
  return whole(raw, '--seed', 0, 0xffffffff);
}

/**
 * `--faults`: `none`, or a comma-separated list of `kill`, `restart`, `store-restart`,
 * `partition`, `latency` (`restart` needs `kill`: it starts the killed instance again; the network
 * faults apply under `--network netns` only).
 *
 * @example
 * ```ts
 * parseFaults('kill,restart'); // ['kill', 'restart']
 * ```
 */
export function parseFaults(raw: string): FaultKind[] {
  const text = raw.trim();
  if (text === 'none') return [];
  const kinds = text.split(',').map((s) => s.trim());
  const out: FaultKind[] = [];
  for (const k of kinds) {
    if (!(FAULT_KINDS as readonly string[]).includes(k))
      throw new OptionError(`--faults: "${k}" is not one of ${FAULT_KINDS.join(', ')} (or none)`);
    if (out.includes(k as FaultKind)) throw new OptionError(`--faults: "${k}" is listed twice`);
    out.push(k as FaultKind);
  }
  if (out.includes('restart') && !out.includes('kill'))
    throw new OptionError('--faults: restart needs kill (it starts the killed instance again)');
  return out;
}

/**
 * `--postgres`: a `postgres://` or `postgresql://` URL.
 *
 * @example
 * ```ts
 * parsePostgresUrl('postgres://postgres@127.0.0.1:5432/test');
 * ```
 */
export function parsePostgresUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new OptionError(`--postgres must be a postgres:// URL (got "${raw}")`);
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:')
    throw new OptionError(`--postgres must be a postgres:// URL (got "${raw}")`);
  return raw;
}

function wholeList(raw: string, name: string, min: number, max: number): number[] {
  const out: number[] = [];
  for (const part of raw.split(',')) {
    const n = whole(part.trim(), name, min, max);
    if (out.includes(n)) throw new OptionError(`${name}: ${n} is listed twice`);
    out.push(n);
  }
  return out.sort((a, b) => a - b);
}

/**
 * `--scale`: comma-separated instance counts, 1 to 64 each, at most 8 of them; sorted.
 *
 * @example
 * ```ts
 * parseScale('1,2,4,8'); // [1, 2, 4, 8]
 * ```
 */
export function parseScale(raw: string): number[] {
  const list = wholeList(raw, '--scale', 1, 64);
  if (list.length > 8) throw new OptionError(`--scale takes at most 8 counts (got ${list.length})`);
  return list;
}

/**
 * `--state-size`: comma-separated state sizes per user (recently viewed entries in the shop's session), 0 to 10000
 * each, at most 8 of them; sorted.
 *
 * @example
 * ```ts
 * parseStateSizes('1,10,100'); // [1, 10, 100]
 * ```
 */
export function parseStateSizes(raw: string): number[] {
  const list = wholeList(raw, '--state-size', 0, 10_000);
  if (list.length > 8) throw new OptionError(`--state-size takes at most 8 sizes (got ${list.length})`);
  return list;
}
