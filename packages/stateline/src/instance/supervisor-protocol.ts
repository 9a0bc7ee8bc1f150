/**
 * The supervisor ↔ instance protocol over the IPC channel of `child_process.fork`. The
 * `$sl: 'supervisor'` marker lets it share the channel with the `ipc:` bus (`$sl: 'bus'`).
 *
 * Instance → supervisor: `listening` once the server accepts connections; `failed` (one line: why)
 * when the app could not start, just before the process exits 1.
 * Supervisor → instance: `drain` (turn `/healthz` and `/readyz` 503, stop accepting, finish in-flight
 * work, exit 0).
 *
 * @example
 * ```ts
 * const drain: SupervisorMessage = { $sl: 'supervisor', type: 'drain' };
 * child.send(drain);
 * ```
 */
export type SupervisorMessage =
  | { $sl: 'supervisor'; type: 'listening'; port: number }
  | { $sl: 'supervisor'; type: 'failed'; reason: string }
  | { $sl: 'supervisor'; type: 'drain' };

/**
 * True when an IPC message belongs to the supervisor protocol.
 *
 * @example
 * ```ts
 * child.on('message', (m) => { if (isSupervisorMessage(m) && m.type === 'listening') register(m.port); });
 * ```
 */
export function isSupervisorMessage(m: unknown): m is SupervisorMessage {
  if (typeof m !== 'object' || m === null) return false;
  const o = m as { $sl?: unknown; type?: unknown; port?: unknown; reason?: unknown };
  if (o.$sl !== 'supervisor') return false;
  if (o.type === 'drain') return true;
  if (o.type === 'failed') return typeof o.reason === 'string';
  return o.type === 'listening' && typeof o.port === 'number' && Number.isInteger(o.port) && o.port > 0;
}

/** True when this process was forked by a supervisor and its IPC channel is open. */
export function isSupervised(): boolean {
  return typeof process.send === 'function' && process.connected;
}

/** Sends `message` to the supervisor; `sent` runs once it left (or could not). */
export function tellSupervisor(message: SupervisorMessage, sent: () => void = () => {}): void {
  process.send?.(message, undefined, undefined, () => sent());
}
