import { realpathSync } from 'node:fs';
import http, { type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { lingerOnEarlyClose, trackRequest } from 'stateline/http';
import { INSTANCE_ENV, isLabMessage, type LabMessage } from './protocol.js';

/** Options of {@link runInstance}; every one has a default taken from the environment. */
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
  /** Runs once the server has closed during a drain, before the process exits: close stores, buses. */
  close?: () => void | Promise<void>;
  /** Longest wait for in-flight requests during a drain before their connections are cut (default 10 s). */
  drainTimeout?: number;
  /** Exit the process (0) once a drain finished (default true). */
  exit?: boolean;
}

/** A listening instance. */
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

const READY_TIMEOUT = 1000;
const SUPERVISED_DRAIN_TIMEOUT = 2000;

function envPort(supervised: boolean): number {
  const raw = process.env.PORT;
  if (raw === undefined || raw === '') return supervised ? 0 : 3000;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`PORT must be a port number (got ${raw})`);
  return n;
}

async function checkReady(ready: InstanceOptions['ready']): Promise<boolean> {
  if (!ready) return true;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      Promise.resolve().then(ready),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), READY_TIMEOUT))),
    ]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown, head: boolean): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
  });
  res.end(head ? undefined : text);
}

/**
 * Runs an app as one instance of a Stateline cluster: listens on `PORT`/`HOST`, reports the port
 * to the supervisor (`stateline up`), answers `/healthz` (liveness: 200 while the process serves,
 * 503 once it drains; what `stateline up`'s gateway routes by) and `/readyz` (503 while draining or
 * when `ready` says no, e.g. its Store is unreachable), adds `X-Stateline-Instance` to every
 * response, and drains on request: the supervisor's `drain` message, SIGTERM, or the supervisor
 * going away (then faster, so no process outlives it). Under a supervisor SIGINT is ignored: a
 * terminal's Ctrl-C reaches every process of the group, and the supervisor drains its instances.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { runInstance } from '@stateline/lab/instance';
 * const app = express().get('/', (_req, res) => res.send('hi'));
 * await runInstance(app, { ready: () => store.get('ping').then(() => true), close: () => store.close() });
 * ```
 */
export async function runInstance(
  app: RequestListener | http.Server,
  options: InstanceOptions = {},
): Promise<RunningInstance> {
  const supervised = typeof process.send === 'function' && process.connected;
  const id = options.id ?? process.env[INSTANCE_ENV.id] ?? `${hostname()}-${process.pid}`;
  const host = options.host ?? (process.env.HOST || '127.0.0.1');
  const port = options.port ?? envPort(supervised);
  const drainTimeout = options.drainTimeout ?? 10_000;

  let server: http.Server;
  let handler: RequestListener;
  if (app instanceof http.Server) {
    // Take over the framework's own request listeners so health and headers come first.
    server = app;
    const listeners = server.listeners('request') as RequestListener[];
    server.removeAllListeners('request');
    handler = (req, res) => {
      for (const l of listeners) l.call(server, req, res);
    };
  } else {
    server = http.createServer();
    handler = app;
  }
  // Longer than undici's 4 s keep-alive so the gateway, not this server, closes idle connections.
  server.keepAliveTimeout = 10_000;

  let draining = false;
  let inflight = 0;
  let drained: Promise<void> | undefined;

  lingerOnEarlyClose(server);
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    trackRequest(req);
    inflight++;
    res.once('close', () => inflight--);
    const writeHead = res.writeHead;
    // Every response, problems included (adapters may clear headers before sending one).
    res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
      if (!this.headersSent) {
        this.setHeader('x-stateline-instance', id);
        if (draining) this.setHeader('connection', 'close');
      }
      return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
    } as ServerResponse['writeHead'];
    const path = (req.url ?? '/').split('?', 1)[0];
    const probe = req.method === 'GET' || req.method === 'HEAD';
    // Liveness: can this process take requests? Only a drain says no; the Store is /readyz's business.
    if (probe && path === '/healthz')
      return draining
        ? sendJson(res, 503, { status: 'draining', instance: id }, req.method === 'HEAD')
        : sendJson(res, 200, { status: 'ok', instance: id }, req.method === 'HEAD');
    if (probe && path === '/readyz') {
      if (draining) return sendJson(res, 503, { status: 'draining', instance: id }, req.method === 'HEAD');
      void checkReady(options.ready).then((ok) =>
        sendJson(
          res,
          ok ? 200 : 503,
          { status: ok ? 'ready' : 'unready', instance: id },
          req.method === 'HEAD',
        ),
      );
      return;
    }
    handler(req, res);
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
      draining = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Keep-alive connections that go idle after the first sweep must be closed too.
      server.closeIdleConnections();
      const sweep = setInterval(() => server.closeIdleConnections(), 100);
      const cut = setTimeout(() => server.closeAllConnections(), timeout);
      try {
        await closed;
      } finally {
        clearInterval(sweep);
        clearTimeout(cut);
      }
      await options.close?.();
    })());

  const drainAndExit = (timeout: number) => {
    drain(timeout).then(
      () => options.exit !== false && process.exit(0),
      (err: unknown) => {
        console.error(`stateline instance ${id}: drain failed:`, err);
        if (options.exit !== false) process.exit(1);
      },
    );
  };

  if (supervised) {
    process.on('message', (m: unknown) => {
      if (isLabMessage(m) && m.type === 'drain') drainAndExit(drainTimeout);
    });
    // The supervisor is gone (even SIGKILLed): nobody routes here any more, so do not outlive it.
    process.on('disconnect', () => drainAndExit(SUPERVISED_DRAIN_TIMEOUT));
    process.on('SIGINT', () => {});
    const listening: LabMessage = { $sl: 'lab', type: 'listening', port: bound };
    process.send!(listening, undefined, undefined, () => {});
  } else {
    console.log(`stateline instance ${id} listening on http://${host}:${bound}`);
    process.once('SIGINT', () => drainAndExit(drainTimeout));
  }
  process.once('SIGTERM', () => drainAndExit(drainTimeout));

  return {
    id,
    port: bound,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}`,
    server,
    get draining() {
      return draining;
    },
    get inflight() {
      return inflight;
    },
    drain: () => drain(drainTimeout),
  };
}

/** One line for a startup error: its message (a Stateline error names the store and the cause). */
function startupReason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return (
    message
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .join(' ') || 'unknown error'
  );
}

/**
 * Ends an instance process whose app could not start (its Store unreachable, say) the way a
 * command-line tool should: one line, no stack, exit code 1. Under a supervisor (`stateline up`)
 * the line goes to the supervisor, which reports it as its own one line; on its own the process
 * prints `stateline instance <id>: cannot start: <reason>` to stderr. The promise never settles:
 * `await`ing it stops the startup code where it is.
 *
 * @example
 * ```ts
 * const shop = await createShop().catch(failStartup);
 * await runInstance(shop.handler, { ready: shop.ready, close: shop.close });
 * ```
 */
export function failStartup(err: unknown): Promise<never> {
  const reason = startupReason(err);
  const id = process.env[INSTANCE_ENV.id] ?? `${hostname()}-${process.pid}`;
  if (typeof process.send === 'function' && process.connected) {
    const failed: LabMessage = { $sl: 'lab', type: 'failed', reason };
    process.send(failed, undefined, undefined, () => process.exit(1));
    // Should the send never complete, the process still ends.
    setTimeout(() => process.exit(1), 2000);
  } else {
    // stderr is synchronous for files, terminals and (on Linux) pipes.
    process.stderr.write(`stateline instance ${id}: cannot start: ${reason}\n`);
    process.exit(1);
  }
  return new Promise<never>(() => {});
}

/**
 * True when the module at `moduleUrl` is the script node was started with (`node app.js`, or an
 * instance the supervisor forked), so an app module can both export its pieces and run itself.
 *
 * @example
 * ```ts
 * if (isMainModule(import.meta.url)) await runInstance(app.handler);
 * ```
 */
export function isMainModule(moduleUrl: string): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    return false;
  }
}
