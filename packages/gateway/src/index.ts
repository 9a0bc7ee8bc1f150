/**
 * `@stateline/gateway`: Stateline's load-balancing reverse proxy (on undici) and the HAProxy and
 * nginx configurations that behave the same way.
 *
 * @example
 * ```ts
 * import { createGateway, exportHaproxy } from '@stateline/gateway';
 * const gw = createGateway({ balance: 'least-conn' });
 * gw.add({ id: 'i1', url: 'http://127.0.0.1:3001' });
 * await gw.listen(8080);
 * console.log(exportHaproxy({ balance: 'least-conn', instances: ['127.0.0.1:3001'] }));
 * ```
 * @module
 */
export { createGateway } from './gateway.js';
export type { FrontHandler } from './front.js';
export {
  GATEWAY_ERRORS,
  SL_ERR_NO_INSTANCE,
  SL_ERR_REQUEST_HEADERS_TOO_LARGE,
  SL_ERR_UPSTREAM_FAILED,
  SL_ERR_UPSTREAM_TIMEOUT,
} from './errors.js';
export { exportHaproxy } from './export/haproxy.js';
export { exportNginx } from './export/nginx.js';
export type { ExportOptions } from './export/export-options.js';
export type {
  Balance,
  Gateway,
  GatewayOptions,
  HashOptions,
  HealthOptions,
  InstanceConfig,
  InstanceCounts,
  InstanceInfo,
  InstanceState,
  ResponseEvent,
  RetryOptions,
  StateChange,
  TimeoutOptions,
} from './types.js';
