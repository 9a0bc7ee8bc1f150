import http, { type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { lingerOnEarlyClose, trackRequest } from '../http/linger.js';
import { resolveLogger, type Logger } from '../logger.js';
import { closeInOrder, type Closable } from './close.js';
import { closeServer, trackUpgrades } from './drain.js';
import { instanceIdFromEnv, portFromEnv } from './env.js';
import { answerProbe } from './probes.js';
import { isSupervised, isSupervisorMessage, tellSupervisor } from './supervisor-protocol.js';

/**
 * Options of {@link runInstance}; every one has a default taken from the environment.
 *
 * @example
 * ```ts
 * const options: InstanceOptions = { ready: () => store.get('ping').then(() => true), close: [store] };
 * ```
 */
export interface InstanceOptions {
  /** This instance's id, sent as `X-Stateline-Instance` (default `STATELINE_INSTANCE_ID`, else `<host>-<pid>`). */
  id?: string;
  /** Default `PORT`, else 0 under a supervisor and 3000 on its own. */
  port?: number;
  /** Default `HOST`, else `127.0.0.1`. */
  host?: string;
  /**
   * Whether the instance can serve: `false` or a throw (or no answer within 1 s) makes `/readyz`
   * answer 503. Check the Store and Bus here. Default: always ready.
   */
  ready?: () => boolean | Promise<boolean>;
  /**
   * What to close once the server has closed during a drain, before the process exits: a function,
   * an object with `close()` (Store, Bus, Log, sessions, hub), or a list of them closed in order.
   */
  close?: Closable | readonly Closable[];
  /** Longest wait for each of `close` before the next one runs (default 5 s). */
  closeTimeout?: number;
  /** Longest wait for in-flight requests during a drain before their connections are cut (default 10 s). */
  drainTimeout?: number;
  /** Exit the process (0) once a drain finished (default true). */
  exit?: boolean;
  /** Where the instance says it listens (`info`) and why a drain failed (`error`); default: the console. */
  logger?: Logger;
}

/**
 * A listening instance.
 *
 * @example
 * ```ts
 * const instance: RunningInstance = await runInstance(app);
 * instance.server.on('upgrade', hub.upgrade);
 * ```
 */
export interface RunningInstance {
  readonly id: string;
  readonly port: number;
  readonly url: string;
  readonly server: http.Server;
  /** True once a drain began: `/healthz` and `/readyz` answer 503 and the server accepts no new connection. */
  readonly draining: boolean;
  /** Requests received and not yet answered. */
  readonly inflight: number;
  /** Stops accepting, finishes in-flight requests, runs `close`; the same promise on every call. */
  drain(): Promise<void>;
}

/** A drain because the supervisor went away is quicker: no process should outlive it for long. */
const ORPHAN_DRAIN_TIMEOUT = 2000;

/** The app's request handler; an `http.Server` gives up its own `request` listeners to it. */
function takeHandler(app: RequestListener | http.Server): { server: http.Server; handler: RequestListener } {
  if (!(app instanceof http.Server)) return { server: http.createServer(), handler: app };
  // Take over the framework's own request listeners so health and headers come first.
  const listeners = app.listeners('request') as RequestListener[];
  app.removeAllListeners('request');
  return {
    server: app,
    handler: (req, res) => {
      for (const l of listeners) l.call(app, req, res);
    },
  };
}

/**
 * Runs an app as one instance behind any balancer (HAProxy, nginx, a cloud load balancer, or
 * `stateline up`): listens on `PORT`/`HOST`, answers `/healthz` (liveness: 200 while the process
 * serves, 503 once it drains; what a balancer routes by) and `/readyz` (503 while draining or when
 * `ready` says no, e.g. its Store is unreachable), adds `X-Stateline-Instance` to every response,
 * and drains on SIGTERM: stops accepting, lets in-flight requests finish, closes `close` in order,
 * exits 0. Upgraded connections (WebSockets) do not hold the drain: `close` should close them (a
 * realtime hub does, with "going away"); any still open after it are cut. Under a supervisor it also reports its port, drains on the supervisor's request or when
 * the supervisor goes away, and ignores SIGINT (a terminal's Ctrl-C reaches every process of the
 * group, and the supervisor drains its instances in order).
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { runInstance } from 'stateline/instance';
 * import { createStore } from 'stateline/store';
 * const store = await createStore(process.env.STATELINE_STORE ?? 'memory:');
 * const app = express().get('/', (_req, res) => res.send('hi'));
 * await runInstance(app, { ready: () => store.get('ping').then(() => true), close: [store] });
 * ```
 */
export async function runInstance(
  app: RequestListener | http.Server,
  options: InstanceOptions = {},
): Promise<RunningInstance> {
  const supervised = isSupervised();
  const id = options.id ?? instanceIdFromEnv();
  const host = options.host ?? (process.env.HOST || '127.0.0.1');
  const port = options.port ?? portFromEnv(supervised);
  const drainTimeout = options.drainTimeout ?? 10_000;
  const log = resolveLogger(options.logger, 'runInstance');

  const { server, handler } = takeHandler(app);
  // Longer than undici's 4 s keep-alive so the balancer, not this server, closes idle connections.
  server.keepAliveTimeout = 10_000;

  const state = { id, draining: false, ready: options.ready };
  let inflight = 0;
  let drained: Promise<void> | undefined;

  lingerOnEarlyClose(server);
  const upgraded = trackUpgrades(server);
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    trackRequest(req);
    inflight++;
    res.once('close', () => inflight--);
    const writeHead = res.writeHead;
    // Every response, problems included (adapters may clear headers before sending one).
    res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
      if (!this.headersSent) {
        this.setHeader('x-stateline-instance', id);
        if (state.draining) this.setHeader('connection', 'close');
      }
      return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
    } as ServerResponse['writeHead'];
    if (!answerProbe(req, res, state)) handler(req, res);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;

  const drain = (timeout: number): Promise<void> =>
    (drained ??= (async () => {
      state.draining = true;
      await closeServer(server, timeout, upgraded);
      try {
        await closeInOrder(options.close, options.closeTimeout ?? 5000);
      } finally {
        // Upgraded sockets the app's close left open.
        for (const socket of upgraded) socket.destroy();
      }
    })());

  const drainAndExit = (timeout: number) => {
    drain(timeout).then(
      () => options.exit !== false && process.exit(0),
      (err: unknown) => {
        log.error({ err, instance: id }, `stateline instance ${id}: drain failed`);
        if (options.exit !== false) process.exit(1);
      },
    );
  };

  if (supervised) {
    process.on('message', (m: unknown) => {
      if (isSupervisorMessage(m) && m.type === 'drain') drainAndExit(drainTimeout);
    });
    // The supervisor is gone (even SIGKILLed): nobody routes here any more, so do not outlive it.
    process.on('disconnect', () => drainAndExit(ORPHAN_DRAIN_TIMEOUT));
    process.on('SIGINT', () => {});
    tellSupervisor({ $sl: 'supervisor', type: 'listening', port: bound });
  } else {
    log.info(
      { instance: id, url: `http://${host}:${bound}` },
      `stateline instance ${id} listening on http://${host}:${bound}`,
    );
    process.once('SIGINT', () => drainAndExit(drainTimeout));
  }
  process.once('SIGTERM', () => drainAndExit(drainTimeout));

  return {
    id,
    port: bound,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}`,
    server,
    get draining() {
      return state.draining;
    },
    get inflight() {
      return inflight;
    },
    drain: () => drain(drainTimeout),
  };
}
