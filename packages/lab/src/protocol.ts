/**
 * The supervisor ↔ instance protocol over the IPC channel of `child_process.fork`. The `$sl: 'lab'`
 * marker lets it share the channel with the `ipc:` bus (`$sl: 'bus'`).
 *
 * Instance → supervisor: `listening` once the server accepts connections; `failed` (one line: why)
 * when the app could not start, just before the process exits 1.
 * Supervisor → instance: `drain` (turn `/healthz` and `/readyz` 503, stop accepting, finish in-flight
 * work, exit 0).
 */
export type LabMessage =
  | { $sl: 'lab'; type: 'listening'; port: number }
  | { $sl: 'lab'; type: 'failed'; reason: string }
  | { $sl: 'lab'; type: 'drain' };

/**
 * True when an IPC message belongs to this protocol.
 *
 * @example
 * ```ts
 * child.on('message', (m) => { if (isLabMessage(m) && m.type === 'listening') register(m.port); });
 * ```
 */
export function isLabMessage(m: unknown): m is LabMessage {
  if (typeof m !== 'object' || m === null) return false;
  const o = m as { $sl?: unknown; type?: unknown; port?: unknown; reason?: unknown };
  if (o.$sl !== 'lab') return false;
  if (o.type === 'drain') return true;
  if (o.type === 'failed') return typeof o.reason === 'string';
  return o.type === 'listening' && typeof o.port === 'number' && Number.isInteger(o.port) && o.port > 0;
}

/** Environment variables the supervisor sets for every instance. */
export const INSTANCE_ENV = {
  id: 'STATELINE_INSTANCE_ID',
  strategy: 'STATELINE_STRATEGY',
  store: 'STATELINE_STORE',
  bus: 'STATELINE_BUS',
  replication: 'STATELINE_REPLICATION',
  sessionKeys: 'STATELINE_SESSION_KEYS',
  /** The value of the gateway's `X-Stateline-Gateway` header: only requests with it are the gateway's. */
  gatewaySecret: 'STATELINE_GATEWAY_SECRET',
} as const;

/** The header the lab's gateway sets on every request it forwards (see `INSTANCE_ENV.gatewaySecret`). */
export const GATEWAY_PROOF_HEADER = 'x-stateline-gateway';
