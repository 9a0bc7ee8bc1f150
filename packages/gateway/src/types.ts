import type { IncomingMessage, Server } from 'node:http';
import type { Logger } from 'stateline/logger';
import type { FrontHandler } from './front.js';

/** How the gateway picks an instance for a request. */
export type Balance = 'round-robin' | 'least-conn' | 'sticky' | 'hash';

/**
 * An instance's routing state. `starting`: added, health checks have not yet passed `rise` times.
 * `up`: takes requests. `draining`: takes no new requests, finishes what it has. `down`: failed
 * `fall` checks in a row (active or passive) or was marked down; back to `up` after `rise` passes.
 */
export type InstanceState = 'starting' | 'up' | 'draining' | 'down';

/** Active health checks: `GET path` every `interval` ms; 2xx/3xx within `timeout` ms passes. */
export interface HealthOptions {
  /** Default `'/healthz'`. */
  path?: string;
  /** Milliseconds between checks of one instance. Default 1000. */
  interval?: number;
  /** Milliseconds a check may take. Default 500. */
  timeout?: number;
  /** Consecutive passes that bring a `starting` or `down` instance `up`. Default 2. */
  rise?: number;
  /** Consecutive failures (checks; proxied attempts that got no answer: refused, reset, timed out) that take an `up` instance `down`. Default 2. */
  fall?: number;
}

/** When a failed request may be sent again to another instance (see docs/gateway.md). */
export interface RetryOptions {
  /** Request bodies up to this size are buffered so they can be replayed; larger ones stream and are never retried. Default 1 MiB. */
  maxBodyBytes?: number;
  /** How many other instances a request may be retried on after the first one failed (HAProxy `retries`). Default 2; 0 turns retries off. */
  attempts?: number;
}

/** Consistent hashing (`balance: 'hash'`). */
export interface HashOptions {
  /** Hash on this cookie. Default: the session cookie, `__Host-sl.sid` or `sl.sid`. */
  cookie?: string;
  /** Hash on this request header instead of a cookie. */
  header?: string;
  /** Bounded load: no instance takes more than this many times its share of in-flight requests. Default 1.25. */
  balanceFactor?: number;
  /** Points per instance on the ring. Default 160. */
  virtualNodes?: number;
}

/** Upstream timeouts in milliseconds. */
export interface TimeoutOptions {
  /** Establishing a connection to an instance. Default 2000. */
  connect?: number;
  /** Waiting for response headers, and then between response body chunks. Default 60000. */
  response?: number;
}

/** A state change, for logs and dashboards. */
export interface StateChange {
  id: string;
  from: InstanceState;
  to: InstanceState;
  /** What caused it: `'health'`, `'passive'`, `'drain'`, `'markDown'`. */
  reason: string;
}

/** One answer to a request the front handlers left to the gateway, for logs and metrics. */
export interface ResponseEvent {
  /** The request as received (method, url, headers). */
  req: IncomingMessage;
  /** The status the answer began with (200 until one was sent). */
  status: number;
  /** False when the answer was cut off or never finished (the client left, the instance broke off). */
  completed: boolean;
  /** The id of the instance whose answer was relayed; undefined when the gateway answered itself (no instance up, upstream failed, body too large, bad request). */
  instance: string | undefined;
  /** Milliseconds from the request reaching the gateway to the end of its answer. */
  duration: number;
}

/** Options of {@link createGateway}. */
export interface GatewayOptions {
  /** Default `'round-robin'`. */
  balance?: Balance;
  hash?: HashOptions;
  /** The sticky-routing cookie's name. Default `'sl.route'`. */
  stickyCookie?: string;
  /** Active health checks; `false` turns them (and passive marking down) off: instances are `up` once added. */
  health?: HealthOptions | false;
  /**
   * Largest request body (bytes) the gateway forwards. A larger `Content-Length`, or a chunked
   * body that grows past it, gets `413 SL_ERR_PAYLOAD_TOO_LARGE` from the gateway itself (no
   * instance is touched, none is counted as failing) and the connection closes after the answer.
   * Default 1 MiB.
   */
  maxBodyBytes?: number;
  /**
   * A header the gateway sets on every request it forwards (a client's own copy is dropped), so an
   * instance can tell the gateway's requests from ones sent straight to its port and believe
   * `X-Forwarded-For` only with it. `stateline up` sets `X-Stateline-Gateway` to a secret made per
   * cluster and gives it to every instance as `STATELINE_GATEWAY_SECRET`.
   */
  proof?: { header: string; value: string };
  retry?: RetryOptions;
  timeouts?: TimeoutOptions;
  /** Count served, errors and retries per instance (inflight is always counted: policies need it). Default true. */
  metrics?: boolean;
  /** Called on every instance state change. Must not throw. */
  onStateChange?: (change: StateChange) => void;
  /**
   * Called once per request the front handlers left to the gateway, when its answer ends or is cut
   * off (requests a front handler answered are not reported). Must not throw (a throw is reported
   * to `onError`).
   */
  onResponse?: (event: ResponseEvent) => void;
  /** Called with what a front handler threw or rejected with (its client got a 500 problem), or an `onResponse` hook threw. Default: `logger.error`. */
  onError?: (err: unknown, req: IncomingMessage) => void;
  /** Where failures go when there is no `onError` (a pino logger fits; default: `console.error`). */
  logger?: Logger;
}

/** An instance to route to. */
export interface InstanceConfig {
  /** 1-64 characters of `A-Z a-z 0-9 . _ -`; it is the sticky cookie's value. */
  id: string;
  /** `http://host:port`. */
  url: string;
}

/**
 * What the gateway counted for one instance id, since the id was first added and over every
 * instance added under it since (a replaced or removed instance's late failures and retries, which
 * may land after its removal, still count): these only ever go up.
 */
export interface InstanceCounts {
  /** Responses it completed. */
  served: number;
  /** Attempts that failed on it: connection errors, resets, timeouts, 502/503 answers. */
  errors: number;
  /** Requests that failed on it and were retried on another instance. */
  retries: number;
}

/** One instance as {@link Gateway.instances} reports it. */
export interface InstanceInfo extends InstanceCounts {
  id: string;
  url: string;
  state: InstanceState;
  /** Requests being proxied to it now. */
  inflight: number;
  /** WebSocket (upgraded) connections to it now. */
  websockets: number;
}

/** The gateway {@link createGateway} returns. */
export interface Gateway {
  /**
   * Adds a handler to the front chain: handlers run in the order they were added, on every plain
   * HTTP request before it is proxied, until one returns (or resolves) true. A handler that throws
   * or rejects gets its client a 500 `SL_ERR_INTERNAL` problem (no message) and is reported to
   * `onError`. Upgrade (WebSocket) requests skip the chain: they are routed at once. Returns the
   * gateway, so calls chain.
   *
   * @example
   * ```ts
   * gw.use((req, res) => {
   *   if (req.url !== '/ping') return false;
   *   res.writeHead(200, { 'content-type': 'text/plain' }).end('pong');
   *   return true;
   * });
   * ```
   */
  use(handler: FrontHandler): Gateway;
  /** Adds an instance (state `starting` until health checks pass `rise` times). An existing id is replaced. */
  add(instance: InstanceConfig): void;
  /** Stops new requests to the instance; resolves when its in-flight requests have finished (rejects for an unknown id). */
  drain(id: string): Promise<void>;
  /** Forgets the instance; requests already sent to it finish. */
  remove(id: string): void;
  /** Marks the instance `down` at once (e.g. its process was killed); health checks may bring it back. Ignores unknown ids. */
  markDown(id: string): void;
  instances(): InstanceInfo[];
  /**
   * The counts of an id added at any time, also after its removal (a killed process's last retry
   * may be counted just after it was removed); undefined for an id never added.
   *
   * @example
   * ```ts
   * gw.remove('i2');
   * gw.counts('i2'); // { served: 120, errors: 1, retries: 1 }
   * ```
   */
  counts(id: string): InstanceCounts | undefined;
  listen(port: number, host?: string): Promise<{ port: number }>;
  close(): Promise<void>;
  /** The node:http server. Its `request`, `upgrade` and `clientError` listeners are the gateway's: answer requests with {@link Gateway.use}. */
  readonly server: Server;
}
