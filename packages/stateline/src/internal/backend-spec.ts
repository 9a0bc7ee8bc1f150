import { StatelineError } from '../errors.js';
import { parseSpec, positiveInt } from './spec.js';

/** The backend a spec string names, with Stateline's own query options pulled out. */
export type BackendTarget =
  | { type: 'memory' }
  | { type: 'sqlite'; path: string }
  | { type: 'redis'; url: string }
  | { type: 'redis-cluster'; nodes: string[] }
  | { type: 'redis-sentinel'; sentinels: string[]; name: string; username?: string; password?: string }
  | { type: 'postgres'; url: string }
  | { type: 'nats'; url: string }
  | { type: 'memcached'; servers: string[] }
  | { type: 'ipc' };

export interface ParsedBackend {
  target: BackendTarget;
  prefix?: string;
  timeout?: number;
  poolSize?: number;
}

const OWN = ['prefix', 'timeout', 'poolSize'] as const;

/**
 * Parses `memory:`, `ipc:`, `sqlite:<path>`, `redis://h:p`, `redis://h1:p1,h2:p2` (cluster),
 * `redis-cluster://h1:p1,h2:p2`, `redis+sentinel://[user:pass@]h1:p1[,h2:p2]/mastername` (the
 * credentials are the data nodes'; a sentinel port defaults to 26379), `postgres://…`, `nats://h1:p1[,h2:p2]`, `memcached://h1:p1[,h2:p2…]`.
 * Query keys `prefix`, `timeout` (ms) and `poolSize`
 * are Stateline's; the rest goes to the driver.
 */
export function parseBackendSpec(spec: string, what: string, allowed: readonly string[]): ParsedBackend {
  const p = parseSpec(spec, what, OWN);
  let target: BackendTarget;
  switch (p.scheme) {
    case 'memory':
      target = { type: 'memory' };
      break;
    case 'ipc':
      target = { type: 'ipc' };
      break;
    case 'sqlite': {
      const path = p.rest.startsWith('//') ? p.rest.slice(2) : p.rest;
      if (!path)
        throw new StatelineError(
          'SL_ERR_INVALID_SPEC',
          `${what} spec "sqlite:" needs a file path, e.g. sqlite:.stateline/state.db`,
        );
      target = { type: 'sqlite', path };
      break;
    }
    case 'redis':
    case 'rediss':
    case 'redis-cluster': {
      const m = /^\/\/(?:([^@/]*)@)?([^/?#]+)(.*)$/.exec(p.rest);
      if (!m)
        throw new StatelineError(
          'SL_ERR_INVALID_SPEC',
          `${what} spec ${JSON.stringify(spec)} is not a redis URL`,
        );
      const hosts = m[2]!.split(',').filter(Boolean);
      const scheme = p.scheme === 'redis-cluster' ? 'redis' : p.scheme;
      const auth = m[1] ? `${m[1]}@` : '';
      if (p.scheme === 'redis-cluster' || hosts.length > 1) {
        target = { type: 'redis-cluster', nodes: hosts.map((h) => `${scheme}://${auth}${h}`) };
      } else {
        const query = p.clientUrl.includes('?') ? p.clientUrl.slice(p.clientUrl.indexOf('?')) : '';
        target = { type: 'redis', url: `${scheme}://${auth}${hosts[0]}${m[3]!.split('?')[0]}${query}` };
      }
      break;
    }
    case 'redis+sentinel':
      target = sentinelTarget(spec, what, p.rest, [...p.params.keys()]);
      break;
    case 'memcached': {
      const servers = /^\/\/([^/?#@]+)\/?$/.exec(p.rest)?.[1]?.split(',').filter(Boolean);
      if (!servers?.length)
        throw new StatelineError(
          'SL_ERR_INVALID_SPEC',
          `${what} spec ${JSON.stringify(spec)} is not memcached://host:port[,host:port…]`,
        );
      const foreign = [...p.params.keys()].find((k) => !(OWN as readonly string[]).includes(k));
      if (foreign)
        throw new StatelineError(
          'SL_ERR_INVALID_SPEC',
          `${what} spec: memcached takes no query option "${foreign}" (known: ${OWN.join(', ')})`,
        );
      target = { type: 'memcached', servers: servers.map((s) => (s.includes(':') ? s : `${s}:11211`)) };
      break;
    }
    case 'postgres':
    case 'postgresql':
      target = { type: 'postgres', url: p.clientUrl };
      break;
    case 'nats':
      if (p.clientUrl.includes('?')) {
        throw new StatelineError(
          'SL_ERR_INVALID_SPEC',
          `${what} spec ${JSON.stringify(spec)}: a nats spec takes only prefix and timeout as query keys`,
        );
      }
      target = { type: 'nats', url: p.clientUrl };
      break;
    default:
      throw new StatelineError(
        'SL_ERR_INVALID_SPEC',
        `${what} spec scheme "${p.scheme}:" is unknown (use one of: ${allowed.map(schemeOf).join(', ')})`,
      );
  }
  if (!allowed.includes(target.type)) {
    throw new StatelineError(
      'SL_ERR_INVALID_SPEC',
      `${what} has no "${target.type}" backend (use one of: ${allowed.map(schemeOf).join(', ')})`,
    );
  }
  const out: ParsedBackend = { target };
  const prefix = p.params.get('prefix');
  if (prefix !== null) out.prefix = prefix;
  if (p.params.has('timeout')) out.timeout = positiveInt(p.params.get('timeout')!, 'timeout', 2000);
  if (p.params.has('poolSize')) out.poolSize = positiveInt(p.params.get('poolSize')!, 'poolSize', 10);
  return out;
}

function sentinelTarget(spec: string, what: string, rest: string, keys: string[]): BackendTarget {
  const m = /^\/\/(?:([^@/]*)@)?([^/?#@]+)\/([^/?#]+)\/?$/.exec(rest);
  const sentinels = m?.[2]!.split(',').filter(Boolean);
  if (!m || !sentinels?.length)
    throw new StatelineError(
      'SL_ERR_INVALID_SPEC',
      `${what} spec ${JSON.stringify(spec)} is not redis+sentinel://host:port[,host:port…]/mastername`,
    );
  const foreign = keys.find((k) => !(OWN as readonly string[]).includes(k));
  if (foreign)
    throw new StatelineError(
      'SL_ERR_INVALID_SPEC',
      `${what} spec: redis+sentinel takes no query option "${foreign}" (known: ${OWN.join(', ')})`,
    );
  const target: BackendTarget = {
    type: 'redis-sentinel',
    sentinels: sentinels.map((s) => (/:\d+$/.test(s) ? s : `${s}:26379`)),
    name: decodeURIComponent(m[3]!),
  };
  if (m[1]) {
    const [user = '', pass] = m[1].split(/:(.*)/s, 2);
    if (user) target.username = decodeURIComponent(user);
    if (pass !== undefined) target.password = decodeURIComponent(pass);
  }
  return target;
}

function schemeOf(type: string): string {
  if (type === 'redis-sentinel') return 'redis+sentinel://…';
  return type === 'sqlite'
    ? 'sqlite:<path>'
    : type === 'memory' || type === 'ipc'
      ? `${type}:`
      : `${type}://…`;
}
