import { StatelineError } from 'stateline/errors';
import { BALANCES, DEFAULT_MAX_BODY_BYTES, DEFAULT_STICKY_COOKIE } from '../options.js';
import type { Balance } from '../types.js';

/** Options of `exportHaproxy` and `exportNginx`. Durations are milliseconds, as for the gateway. */
export interface ExportOptions {
  /** Default `'round-robin'`. */
  balance?: Balance;
  /** `'host:port'` each (ids become `i1`, `i2`, … in order), or `{ id, address }`. At least one. */
  instances: readonly (string | { id?: string; address: string })[];
  /** Port the proxy listens on. Default 8080. */
  port?: number;
  /** Address to bind; default: all interfaces. */
  host?: string;
  /** Consistent hashing: the key's cookie or header (default: the session cookie), and the bounded-load factor. */
  hash?: { cookie?: string; header?: string; balanceFactor?: number };
  /** Default `'sl.route'`. */
  stickyCookie?: string;
  health?: { path?: string; interval?: number; timeout?: number; rise?: number; fall?: number };
  /** Largest request body forwarded (413 above it), as the gateway's `maxBodyBytes`. Default 1 MiB. */
  maxBodyBytes?: number;
  retry?: { attempts?: number; maxBodyBytes?: number };
  timeouts?: { connect?: number; response?: number };
}

/** Export options with defaults applied and checked. */
export interface ResolvedExport {
  balance: Balance;
  servers: { id: string; host: string; port: number }[];
  port: number;
  host: string | undefined;
  hashCookie: string | undefined;
  hashHeader: string | undefined;
  balanceFactor: number;
  stickyCookie: string;
  health: { path: string; interval: number; timeout: number; rise: number; fall: number };
  attempts: number;
  maxBodyBytes: number;
  bodyLimit: number;
  connectTimeout: number;
  responseTimeout: number;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const ID = /^[A-Za-z0-9._-]{1,64}$/;
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)$/;

function invalid(detail: string): StatelineError {
  return new StatelineError('SL_ERR_INVALID_OPTION', `export: ${detail}`);
}

function int(value: number | undefined, name: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min)
    throw invalid(`${name} must be an integer >= ${min} (got ${JSON.stringify(value)})`);
  return value;
}

/** Splits `host:port` (IPv6 as `[::1]:port`). */
export function parseAddress(address: string): { host: string; port: number } {
  const m = /^(.+):(\d{1,5})$/.exec(address.trim());
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || !HOST.test(m[1]!) || port < 1 || port > 65535) {
    throw invalid(`instance address must be host:port (got ${JSON.stringify(address)})`);
  }
  return { host: m[1]!, port };
}

/** Applies defaults and refuses values the generated configs could not carry safely. */
export function resolveExport(options: ExportOptions): ResolvedExport {
  const balance = options.balance ?? 'round-robin';
  if (!BALANCES.includes(balance))
    throw invalid(`balance must be one of ${BALANCES.join(', ')} (got ${JSON.stringify(balance)})`);
  if (!Array.isArray(options.instances) || options.instances.length === 0) {
    throw invalid('instances must list at least one host:port');
  }
  const servers = options.instances.map((entry, k) => {
    const { id, address } = typeof entry === 'string' ? { id: undefined, address: entry } : entry;
    const resolvedId = id ?? `i${k + 1}`;
    if (!ID.test(resolvedId))
      throw invalid(`instance id must be 1-64 of A-Z a-z 0-9 . _ - (got ${JSON.stringify(resolvedId)})`);
    return { id: resolvedId, ...parseAddress(address) };
  });
  if (new Set(servers.map((s) => s.id)).size !== servers.length) throw invalid('instance ids must be unique');
  const hash = options.hash ?? {};
  if (hash.cookie !== undefined && hash.header !== undefined)
    throw invalid('hash takes a cookie or a header, not both');
  for (const [name, value] of [
    ['hash.cookie', hash.cookie],
    ['hash.header', hash.header],
    ['stickyCookie', options.stickyCookie],
  ] as const) {
    if (value !== undefined && !TOKEN.test(value))
      throw invalid(`${name} is not a valid name (got ${JSON.stringify(value)})`);
  }
  const factor = hash.balanceFactor ?? 1.25;
  if (!(factor >= 1)) throw invalid('hash.balanceFactor must be >= 1');
  const h = options.health ?? {};
  const path = h.path ?? '/healthz';
  if (!/^\/[!-~]*$/.test(path) || /["\s;{}]/.test(path))
    throw invalid(`health.path must be a plain path (got ${JSON.stringify(path)})`);
  if (options.host !== undefined && !HOST.test(options.host))
    throw invalid(`host is not an address (got ${JSON.stringify(options.host)})`);
  return {
    balance,
    servers,
    port: int(options.port, 'port', 8080, 1),
    host: options.host,
    hashCookie: hash.cookie,
    hashHeader: hash.header,
    balanceFactor: factor,
    stickyCookie: options.stickyCookie ?? DEFAULT_STICKY_COOKIE,
    health: {
      path,
      interval: int(h.interval, 'health.interval', 1000, 10),
      timeout: int(h.timeout, 'health.timeout', 500, 1),
      rise: int(h.rise, 'health.rise', 2, 1),
      fall: int(h.fall, 'health.fall', 2, 1),
    },
    attempts: int(options.retry?.attempts, 'retry.attempts', 2, 0),
    maxBodyBytes: int(options.retry?.maxBodyBytes, 'retry.maxBodyBytes', 1_048_576, 0),
    bodyLimit: int(options.maxBodyBytes, 'maxBodyBytes', DEFAULT_MAX_BODY_BYTES, 1),
    connectTimeout: int(options.timeouts?.connect, 'timeouts.connect', 2000, 1),
    responseTimeout: int(options.timeouts?.response, 'timeouts.response', 60_000, 1),
  };
}

/** The command line that reproduces these options, for the generated file's header. */
export function commandLine(kind: 'haproxy' | 'nginx', o: ResolvedExport): string {
  const addresses = o.servers.map((s) => `${s.host}:${s.port}`).join(',');
  return `stateline export ${kind} --balance ${o.balance} --instances ${addresses}`;
}
