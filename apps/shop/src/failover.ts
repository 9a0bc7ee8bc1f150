import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Session, SessionMetrics } from 'stateline/session';
import type { ShopConfig } from './config.js';

/** The gateway's sticky cookie (its default name): the instance that served this browser before. */
export const ROUTE_COOKIE = 'sl.route';
/** Set on a page request that was rerouted, so the next API call can still tell what happened. */
export const FAILOVER_COOKIE = 'sl.failover';
/** The response header that carries a {@link FailoverNotice} (URI-encoded JSON). */
export const FAILOVER_HEADER = 'x-stateline-failover';
const SESSION_COOKIES = ['sl.sid', '__Host-sl.sid'];
const INSTANCE_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** What became of a browser's session when the instance it was pinned to stopped serving it. */
export interface FailoverNotice {
  /** The instance the route cookie named. */
  from: string;
  /** The instance that answered instead (this one). */
  to: string;
  /** `restored` from a replica, `kept` (shared store or cookie), `lost`, or `none` (no session yet). */
  outcome: 'restored' | 'kept' | 'lost' | 'none';
  /** One sentence for the person. */
  text: string;
}

/** The value of cookie `name` in a Cookie header. */
export function cookieOf(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * The instance this browser was pinned to that no longer serves it, or undefined: the sticky
 * cookie names another instance (the gateway rerouted: that one is down or drained), or a page
 * request that was rerouted left {@link FAILOVER_COOKIE}.
 *
 * @example
 * ```ts
 * reroutedFrom({ cookie: 'sl.route=i2' }, 'i3'); // { from: 'i2', viaCookie: false }
 * ```
 */
export function reroutedFrom(
  headers: IncomingMessage['headers'],
  self: string,
): { from: string; viaCookie: boolean } | undefined {
  const route = cookieOf(headers.cookie, ROUTE_COOKIE);
  if (route !== undefined && route !== self && INSTANCE_ID.test(route))
    return { from: route, viaCookie: false };
  const left = cookieOf(headers.cookie, FAILOVER_COOKIE);
  if (left !== undefined && left !== self && INSTANCE_ID.test(left)) return { from: left, viaCookie: true };
  return undefined;
}

/**
 * On a rerouted page request (whose headers no script can read), leaves the failed instance's id
 * in a short-lived cookie for the API call that follows.
 *
 * @example
 * ```ts
 * rememberReroute(req, res, config.instance);
 * await serveStatic(req, res, path);
 * ```
 */
export function rememberReroute(req: IncomingMessage, res: ServerResponse, self: string): void {
  const r = reroutedFrom(req.headers, self);
  if (r && !r.viaCookie)
    appendCookie(res, `${FAILOVER_COOKIE}=${r.from}; Path=/; Max-Age=300; HttpOnly; SameSite=Lax`);
}

function appendCookie(res: ServerResponse, value: string): void {
  const prior = res.getHeader('set-cookie');
  const list = prior === undefined ? [] : Array.isArray(prior) ? prior : [String(prior)];
  res.setHeader('set-cookie', [...list, value]);
}

/** Where a strategy keeps sessions, in words: `server`/`hybrid` name the store's kind. */
export function storeKind(spec: string): string {
  const scheme = spec.split(':', 1)[0]!.toLowerCase();
  const names: Record<string, string> = {
    sqlite: 'SQLite',
    redis: 'Redis',
    rediss: 'Redis',
    'redis+cluster': 'Redis Cluster',
    postgres: 'PostgreSQL',
    postgresql: 'PostgreSQL',
    mysql: 'MariaDB/MySQL',
    mariadb: 'MariaDB/MySQL',
    memcached: 'memcached',
    nats: 'NATS JetStream',
    memory: "this process's memory",
  };
  return names[scheme] ?? scheme;
}

/**
 * Where this instance keeps a session it serves, as a phrase: "in i2's memory, copied to one
 * backup instance", "in SQLite", "in your browser, encrypted".
 *
 * @example
 * ```ts
 * whereSessionsLive(readConfig({ STATELINE_STRATEGY: 'token' })); // 'in your browser, encrypted (a sealed cookie)'
 * ```
 */
export function whereSessionsLive(config: ShopConfig): string {
  const store = storeKind(config.sessionStoreSpec ?? config.storeSpec);
  switch (config.strategy) {
    case 'token':
      return 'in your browser, encrypted (a sealed cookie)';
    case 'hybrid':
      return `in ${store}, cached in ${config.instance}'s memory`;
    case 'memory':
      if (config.replication === 'backup')
        return `in ${config.instance}'s memory, copied to one backup instance`;
      if (config.replication === 'all') return `in ${config.instance}'s memory, copied to every instance`;
      return `in ${config.instance}'s memory only`;
    default:
      return `in ${store}`;
  }
}

/**
 * What happened to this request's session after a reroute, from what the server saw: a session
 * cookie that found nothing here is lost; a `memory` session found here came from a replica
 * (fetched from a peer when `replicasFetched` moved during the load, else this instance held the
 * copy); other strategies read it where it always was.
 *
 * @example
 * ```ts
 * const notice = failoverNotice({ from: 'i2', config, session, hadCookie: true, fetchedBefore: 0, metrics });
 * ```
 */
export function failoverNotice(o: {
  from: string;
  config: ShopConfig;
  session: Session;
  hadCookie: boolean;
  fetchedBefore: number;
  metrics: Readonly<SessionMetrics>;
}): FailoverNotice {
  const { from, config, session } = o;
  const to = config.instance;
  const base = { from, to };
  if (!o.hadCookie)
    return {
      ...base,
      outcome: 'none',
      text: `${from}, which served you, stopped; ${to} answers now. You had no session yet, so nothing was lost.`,
    };
  if (session.isNew) {
    const why =
      config.strategy === 'memory' && config.replication === 'off'
        ? 'the memory strategy without replication keeps sessions only in the instance that served you'
        : `${to} found no session for your cookie`;
    return {
      ...base,
      outcome: 'lost',
      text: `${from}, which held your session, stopped; your session was lost: ${why}.`,
    };
  }
  if (config.strategy === 'memory') {
    const fetched = o.metrics.replicasFetched > o.fetchedBefore;
    const copy = fetched ? `a copy ${to} fetched from another instance` : `${to}'s copy`;
    return {
      ...base,
      outcome: 'restored',
      text: `${from}, which held your session, stopped; your session was restored from ${copy}.`,
    };
  }
  const where =
    config.strategy === 'token' ? 'your own cookie' : storeKind(config.sessionStoreSpec ?? config.storeSpec);
  return {
    ...base,
    outcome: 'kept',
    text: `${from}, which served you, stopped; ${to} read your session from ${where}, so nothing was lost.`,
  };
}

const notices = new WeakMap<IncomingMessage, FailoverNotice>();

/**
 * Records the request's notice: sent as {@link FAILOVER_HEADER}, kept for `whoami`, and the
 * page's reroute cookie cleared once told.
 *
 * @example
 * ```ts
 * tell(req, res, notice, true);
 * ```
 */
export function tell(
  req: IncomingMessage,
  res: ServerResponse,
  notice: FailoverNotice,
  viaCookie: boolean,
): void {
  notices.set(req, notice);
  res.setHeader(FAILOVER_HEADER, encodeURIComponent(JSON.stringify(notice)));
  if (viaCookie) appendCookie(res, `${FAILOVER_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax`);
}

/**
 * The failover notice this request produced, if any.
 *
 * @example
 * ```ts
 * sendJson(res, 200, { failover: noticeOf(req) ?? null });
 * ```
 */
export function noticeOf(req: IncomingMessage): FailoverNotice | undefined {
  return notices.get(req);
}

/** True when the request carries a session cookie (of any strategy). */
export function hasSessionCookie(headers: IncomingMessage['headers']): boolean {
  return SESSION_COOKIES.some((n) => cookieOf(headers.cookie, n) !== undefined);
}
