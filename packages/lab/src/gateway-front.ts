import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import { problem } from 'stateline/http';
import { authorize, CONTROL_PREFIX } from './control.js';
import type { GatewayMetrics } from './gateway-metrics.js';

/** What the lab's gateway answers itself before anything is proxied. */
export interface GatewayFrontOptions {
  metrics: GatewayMetrics;
  /** The control API's admin token, if any: `/metrics` follows the same access rule. */
  adminToken: string | undefined;
}

/**
 * Puts the lab's own routes in front of a gateway's request listener: `GET`/`HEAD /metrics` (the
 * gateway's Prometheus metrics, same access rule as the control API), `/_stateline` redirected to
 * the dashboard at `/_stateline/`, and every other request observed for the metrics and handed on
 * (the control API's own requests are not counted as traffic).
 *
 * @example
 * ```ts
 * const gw = createGateway({ control, onStateChange: (c) => metrics.onStateChange(c) });
 * attachGatewayFront(gw.server, { metrics, adminToken: undefined });
 * ```
 */
export function attachGatewayFront(server: Server, o: GatewayFrontOptions): void {
  const listeners = server.listeners('request') as RequestListener[];
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    if (path === '/metrics' && (req.method === 'GET' || req.method === 'HEAD')) {
      if (authorize(req, res, o.adminToken)) serveMetrics(o.metrics, res, req.method === 'HEAD');
      return;
    }
    if (path === '/_stateline') {
      res.writeHead(308, {
        location: `${CONTROL_PREFIX}${q === -1 ? '' : url.slice(q)}`,
        'content-length': '0',
      });
      res.end();
      return;
    }
    if (!path.startsWith(CONTROL_PREFIX)) o.metrics.observe(req, res);
    for (const l of listeners) l.call(server, req, res);
  });
}

function serveMetrics(metrics: GatewayMetrics, res: ServerResponse, head: boolean): void {
  metrics.text().then(
    (text) => {
      res.writeHead(200, {
        'content-type': metrics.registry.contentType,
        'cache-control': 'no-store',
        'content-length': String(Buffer.byteLength(text)),
      });
      res.end(head ? undefined : text);
    },
    (err: unknown) => {
      console.error('stateline gateway: /metrics failed:', err);
      const p = problem('SL_ERR_INTERNAL', 'the metrics could not be collected');
      if (res.headersSent) res.destroy();
      else res.writeHead(p.status, p.headers).end(p.body);
    },
  );
}
