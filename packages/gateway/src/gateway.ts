import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { StatelineError } from 'stateline/errors';
import { lingerOnEarlyClose, trackRequest } from 'stateline/http';
import { onClientError } from './client-error.js';
import { proxyRequest, type ExchangeContext } from './exchange.js';
import { InstanceSet } from './instance-set.js';
import { resolveOptions } from './options.js';
import { sendProblem } from './respond.js';
import type { Gateway, GatewayOptions, InstanceConfig, InstanceInfo } from './types.js';
import { proxyUpgrade } from './upgrade.js';

const CONTROL_PREFIX = '/_stateline/';

/**
 * Creates Stateline's load-balancing reverse proxy. Instances are added (and drained, removed,
 * marked down) at run time; requests are routed by the `balance` policy among the instances that
 * are `up`, with health checks, safe retries and WebSocket upgrades. See docs/gateway.md.
 *
 * @example
 * ```ts
 * import { createGateway } from '@stateline/gateway';
 * const gw = createGateway({ balance: 'sticky', health: { interval: 1000 } });
 * gw.add({ id: 'i1', url: 'http://127.0.0.1:3001' });
 * gw.add({ id: 'i2', url: 'http://127.0.0.1:3002' });
 * const { port } = await gw.listen(8080, '127.0.0.1');
 * // later: await gw.drain('i1'); gw.remove('i1'); await gw.close();
 * ```
 */
export function createGateway(options: GatewayOptions = {}): Gateway {
  const resolved = resolveOptions(options);
  const set = new InstanceSet(resolved);
  const ctx: ExchangeContext = { set, options: resolved };
  const upgraded = new Set<Duplex>();
  const control = resolved.control;
  let closing: Promise<void> | undefined;

  const runControl = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let answered = false;
    try {
      answered = await control!(req, res);
    } catch (err) {
      if (res.headersSent) res.destroy();
      else
        sendProblem(
          res,
          'SL_ERR_INTERNAL',
          err instanceof StatelineError ? err.message : 'the control handler failed',
        );
      return;
    }
    if (!answered && !res.headersSent && !res.destroyed) proxyRequest(ctx, req, res);
  };

  const server = http.createServer(
    { noDelay: true, keepAlive: true, requireHostHeader: false },
    (req: IncomingMessage, res: ServerResponse) => {
      if (control !== undefined && req.url !== undefined && req.url.startsWith(CONTROL_PREFIX)) {
        trackRequest(req);
        void runControl(req, res);
        return;
      }
      proxyRequest(ctx, req, res);
    },
  );
  server.on('clientError', onClientError);
  lingerOnEarlyClose(server);
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    proxyUpgrade(ctx, req, socket, head, upgraded);
  });

  return {
    server,
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
}
