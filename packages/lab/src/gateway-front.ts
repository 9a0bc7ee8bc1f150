import type { ServerResponse } from 'node:http';
import type { FrontHandler } from '@stateline/gateway';
import { authorize, CONTROL_PREFIX } from './control.js';
import type { GatewayMetrics } from './gateway-metrics.js';

/** What the lab's gateway answers itself besides the control API. */
export interface GatewayFrontOptions {
  metrics: GatewayMetrics;
  /** The control API's admin token, if any: `/metrics` follows the same access rule. */
  adminToken: string | undefined;
}

/**
 * The lab's front handler for its gateway (see `Gateway.use`): `GET`/`HEAD /metrics` (the
 * gateway's Prometheus metrics, same access rule as the control API) and `/_stateline` redirected
 * to the dashboard at `/_stateline/`. Every other request is left to the next handler.
 *
 * @example
 * ```ts
 * const gw = createGateway({ onResponse: (e) => metrics.observe(e) });
 * gw.use(gatewayFront({ metrics, adminToken: undefined })).use(createControl(control));
 * ```
 */
export function gatewayFront(o: GatewayFrontOptions): FrontHandler {
  return (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    if (path === '/metrics' && (req.method === 'GET' || req.method === 'HEAD')) {
      if (!authorize(req, res, o.adminToken)) return true;
      // A failure rejects: the gateway answers 500 and reports it to its onError.
      return serveMetrics(o.metrics, res, req.method === 'HEAD');
    }
    if (path === '/_stateline') {
      res.writeHead(308, {
        location: `${CONTROL_PREFIX}${q === -1 ? '' : url.slice(q)}`,
        'content-length': '0',
      });
      res.end();
      return true;
    }
    return false;
  };
}

async function serveMetrics(metrics: GatewayMetrics, res: ServerResponse, head: boolean): Promise<true> {
  const text = await metrics.text();
  res.writeHead(200, {
    'content-type': metrics.registry.contentType,
    'cache-control': 'no-store',
    'content-length': String(Buffer.byteLength(text)),
  });
  res.end(head ? undefined : text);
  return true;
}
