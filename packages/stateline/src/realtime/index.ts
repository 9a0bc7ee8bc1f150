/**
 * `stateline/realtime`: WebSocket rooms with presence and history that survive the death of any
 * instance. Protocol, resume semantics and limits: docs/realtime.md.
 *
 * @example
 * ```ts
 * import http from 'node:http';
 * import { createHub } from 'stateline/realtime';
 * const server = http.createServer(app);
 * const hub = await createHub({ server, path: '/realtime', log: 'redis://127.0.0.1:6379', bus: 'redis://127.0.0.1:6379', sessions });
 * server.listen(3000);
 * ```
 * @module
 */
import { busOptionsFromSpec, createBus } from '../bus/index.js';
import type { Bus } from '../bus/types.js';
import { createLog, logOptionsFromSpec } from '../log/index.js';
import type { Log, LogSpec, Retention } from '../log/types.js';
import { RealtimeHub } from './hub.js';
import { resolveHubOptions } from './options.js';
import type { Hub, HubOptions } from './types.js';
import { loadWs } from './ws-peer.js';
import type { Logger } from '../logger.js';

export type * from './types.js';
export type * from './protocol.js';
export { CLOSE_CODES, parseClientFrame } from './protocol.js';

const isLog = (v: unknown): v is Log =>
  typeof v === 'object' && v !== null && typeof (v as Log).append === 'function';
const isBus = (v: unknown): v is Bus =>
  typeof v === 'object' && v !== null && typeof (v as Bus).publish === 'function';

function withRetention(spec: LogSpec, history: Retention | undefined, logger: Logger | undefined): LogSpec {
  if (history === undefined && logger === undefined) return spec;
  const o = { ...logOptionsFromSpec(spec), ...(logger ? { logger } : {}) };
  return history === undefined ? o : { ...o, retention: history };
}

/**
 * Creates a hub instance on the given Log and Bus. Run one per process; all instances on the same
 * Log and Bus serve the same rooms. Rejects with `SL_ERR_INVALID_OPTION` for bad options,
 * `SL_ERR_PEER_DEPENDENCY_MISSING` without `ws`, and the backend's `…_UNAVAILABLE` when a spec
 * cannot be opened.
 *
 * @example
 * ```ts
 * const hub = await createHub({
 *   server,
 *   log: { type: 'postgres', url: process.env.DATABASE_URL!, retention: { maxCount: 5000 } },
 *   bus: 'postgres://…',
 *   sessions,
 *   rooms: (name) => (name.startsWith('public:') ? { anonymous: true } : { anonymous: false }),
 *   slowConsumer: 'disconnect',
 * });
 * ```
 */
export async function createHub(options: HubOptions): Promise<Hub> {
  const o = resolveHubOptions(options);
  const ws = await loadWs();
  const owned: Array<Log | Bus> = [];
  try {
    const log = isLog(options.log)
      ? options.log
      : await createLog(withRetention(options.log, options.history, options.logger));
    if (!isLog(options.log)) owned.push(log);
    const bus = isBus(options.bus)
      ? options.bus
      : await createBus(
          options.logger ? { ...busOptionsFromSpec(options.bus), logger: options.logger } : options.bus,
        );
    if (!isBus(options.bus)) owned.push(bus);
    const hub = new RealtimeHub(o, ws, log, bus, options.sessions, options.rooms, owned);
    if (options.server) hub.attach(options.server);
    return hub;
  } catch (err) {
    for (const x of owned.reverse()) await x.close().catch(() => {});
    throw err;
  }
}
