import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { StatelineError } from 'stateline/errors';
import { lingerOnEarlyClose, trackRequest } from 'stateline/http';
import { onClientError } from './client-error.js';
import { proxyRequest, relayedFrom, type ExchangeContext } from './exchange.js';
import { reportSafely, runFront, type FrontHandler } from './front.js';
import { InstanceSet } from './instance-set.js';
import { resolveOptions, type ResolvedOptions } from './options.js';
import type { Gateway, GatewayOptions, InstanceConfig, InstanceCounts, InstanceInfo, ResponseEvent } from './types.js';
import { proxyUpgrade } from './upgrade.js';

/** Reports the answer to `onResponse` once it ends or is cut off. */
function reportResponse(
  o: ResolvedOptions,
  onResponse: (event: ResponseEvent) => void,
  req: IncomingMessage,
  res: ServerResponse,
  start: number,
): void {
  res.once('close', () => {
    try {
      onResponse({
        req,
        status: res.statusCode,
        completed: res.writableFinished,
        instance: relayedFrom(res),
        duration: performance.now() - start,
      });
    } catch (err) {
      reportSafely(o.onError, err, req);
    }
  });
}

/**
 * Creates Stateline's load-balancing reverse proxy. Instances are added (and drained, removed,
 * marked down) at run time; requests are routed by the `balance` policy among the instances that
 * are `up`, with health checks, safe retries and WebSocket upgrades. Handlers added with
 * {@link Gateway.use} see each request first and may answer it themselves. See docs/gateway.md.
 *
 * @example
 * ```ts
 * import { createGateway } from '@stateline/gateway';
 * const gw = createGateway({ balance: 'sticky', health: { interval: 1000 } });
 * gw.add({ id: 'i1', url: 'http://127.0.0.1:3001' });
 * gw.add({ id: 'i2', url: 'http://127.0.0.1:3002' });
 * gw.use((req, res) => {
 *   if (req.url !== '/ping') return false;
 *   res.writeHead(204).end();
 *   return true;
 * });
 * const { port } = await gw.listen(8080, '127.0.0.1');
 * // later: await gw.drain('i1'); gw.remove('i1'); await gw.close();
 * ```
 */
export function createGateway(options: GatewayOptions = {}): Gateway {
  const resolved = resolveOptions(options);
  const set = new InstanceSet(resolved);
  const ctx: ExchangeContext = { set, options: resolved };
  const upgraded = new Set<Duplex>();
  // Replaced, never mutated, by use(): a chain already running keeps the list it started with.
  let front: readonly FrontHandler[] = [];
  let closing: Promise<void> | undefined;

  const proxy = (req: IncomingMessage, res: ServerResponse, start: number): void => {
    if (resolved.onResponse !== undefined) reportResponse(resolved, resolved.onResponse, req, res, start);
    proxyRequest(ctx, req, res);
  };
  const server = http.createServer(
    { noDelay: true, keepAlive: true, requireHostHeader: false },
    (req: IncomingMessage, res: ServerResponse) => {
      const start = resolved.onResponse === undefined ? 0 : performance.now();
      if (front.length === 0) {
        proxy(req, res, start);
        return;
      }
      // Early answers (an unread upload) must close cleanly: see lingerOnEarlyClose.
      trackRequest(req);
      runFront(front, req, res, () => proxy(req, res, start), resolved.onError);
    },
  );
  server.on('clientError', onClientError);
  lingerOnEarlyClose(server);
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    proxyUpgrade(ctx, req, socket, head, upgraded);
  });

  const gateway: Gateway = {
    server,
    use(handler: FrontHandler): Gateway {
      if (typeof handler !== 'function')
        throw new StatelineError(
          'SL_ERR_INVALID_OPTION',
          'gateway: use() takes a function (req, res) => boolean',
        );
      front = [...front, handler];
      return gateway;
    },
    add(instance: InstanceConfig): void {
      set.add(instance);
    },
    drain(id: string): Promise<void> {
      return set.drain(id);
    },
    remove(id: string): void {
      set.remove(id);
    },
    markDown(id: string): void {
      set.markDown(id);
    },
    instances(): InstanceInfo[] {
      return set.instances();
    },
    counts(id: string): InstanceCounts | undefined {
      return set.counts(id);
    },
    listen(port: number, host = '127.0.0.1'): Promise<{ port: number }> {
      return new Promise((resolve, reject) => {
        const onError = (err: Error) => reject(err);
        server.once('error', onError);
        server.listen(port, host, () => {
          server.off('error', onError);
          resolve({ port: (server.address() as AddressInfo).port });
        });
      });
    },
    close(): Promise<void> {
      closing ??= (async () => {
        const stopped = server.listening
          ? new Promise<void>((resolve) => server.close(() => resolve()))
          : Promise.resolve();
        server.closeIdleConnections();
        for (const s of upgraded) s.destroy();
        // Requests in flight get a moment to finish; then their connections are cut.
        const cut = setTimeout(() => server.closeAllConnections(), 2000);
        cut.unref();
        await stopped;
        clearTimeout(cut);
        await set.close();
      })();
      return closing;
    },
  };
  return gateway;
}
