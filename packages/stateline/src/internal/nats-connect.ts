/**
 * The one place Stateline opens NATS connections (`@nats-io/transport-node`, an optional peer).
 * The NATS Bus and the NATS Log go through here so they fail alike:
 *
 * - Opening is bounded by `timeout`: a server that cannot be reached rejects with the backend's
 *   `…_UNAVAILABLE` code and nothing keeps retrying for an object the caller never received.
 * - Once open, the client reconnects forever (jittered waits) and re-subscribes by itself; the
 *   link tracks `disconnect` / `reconnect` so a backend can refuse calls while the server is gone
 *   instead of letting the client buffer them.
 * - Subjects are built from tokens made by {@link subjectToken}, so no channel or stream name can
 *   inject a `.` (a new token) or a wildcard (`*`, `>`) into a subject.
 */
import type * as Transport from '@nats-io/transport-node';
import { processLogger, type Logger } from '../logger.js';
import type { NatsConnection } from '@nats-io/transport-node';
import { StatelineError } from '../errors.js';
import type { UnavailableCode } from './redis-connect.js';
import { loadPeer } from './peer.js';

type TransportModule = Pick<typeof Transport, 'connect'>;

export interface NatsConnectOptions {
  code: UnavailableCode;
  /** Names the backend in errors, e.g. `'nats log'`. */
  label: string;
  /** Bounds the first connection, in ms. */
  timeout: number;
  /** Hears a connection listener that threw (default: a process warning). */
  logger?: Logger | undefined;
}

/** A connection plus its up/down state, as the NATS backends use it. */
export interface NatsLink {
  readonly nc: NatsConnection;
  readonly connected: boolean;
  /** Called with `false` when the server is lost and `true` once the client reconnected. */
  onConnectionChange(listener: (connected: boolean) => void): () => void;
  close(): Promise<void>;
}

/**
 * `nats://h1:4222,h2:4222` (credentials in the URL are kept per server) → the server list the
 * client takes. Query strings are refused: the NATS backends take no driver options in a spec.
 */
export function natsServers(url: string, label: string): string[] {
  const m = /^(nats|tls):\/\/([^/?#]+)\/?$/.exec(url);
  if (!m) {
    throw new StatelineError(
      'SL_ERR_INVALID_OPTION',
      `${label} needs a url such as nats://127.0.0.1:4222 (got ${JSON.stringify(url)})`,
    );
  }
  const auth = m[2]!.includes('@') ? m[2]!.slice(0, m[2]!.lastIndexOf('@') + 1) : '';
  const hosts = m[2]!.slice(auth.length).split(',').filter(Boolean);
  return hosts.map((h) => `${m[1]}://${auth}${h}`);
}

/**
 * Escapes any string into one subject token: letters, digits, `_`, `-` and `:` stay as they are,
 * every other UTF-8 byte becomes `~xx`. Injective, and the result never holds `.`, `*`, `>` or
 * whitespace. The empty string is `~`.
 *
 * @example
 * ```ts
 * subjectToken('room:lobby'); // 'room:lobby'
 * subjectToken('a.b *');      // 'a~2eb~20~2a'
 * ```
 */
export function subjectToken(s: string): string {
  if (s === '') return '~';
  if (/^[A-Za-z0-9_:-]+$/.test(s)) return s;
  let out = '';
  for (const ch of s) {
    if (/^[A-Za-z0-9_:-]$/.test(ch)) out += ch;
    else for (const b of Buffer.from(ch, 'utf8')) out += `~${b.toString(16).padStart(2, '0')}`;
  }
  return out;
}

class Link implements NatsLink {
  private readonly listeners = new Set<(connected: boolean) => void>();
  private up = true;

  constructor(
    readonly nc: NatsConnection,
    private readonly label: string,
    private readonly log: Logger,
  ) {
    void this.watch();
  }

  get connected(): boolean {
    return this.up;
  }

  private async watch(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === 'disconnect') this.set(false);
      else if (s.type === 'reconnect') this.set(true);
    }
  }

  private set(up: boolean): void {
    if (up === this.up) return;
    this.up = up;
    for (const l of [...this.listeners]) {
      try {
        l(up);
      } catch (err) {
        this.log.warn({ err }, `stateline ${this.label} connection listener threw`);
      }
    }
  }

  onConnectionChange(listener: (connected: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.listeners.clear();
    if (this.nc.isClosed()) return;
    // A bounded close: a server that is gone cannot make close() hang.
    await Promise.race([this.nc.close(), new Promise((r) => setTimeout(r, 1000).unref())]);
  }
}

/**
 * Opens a NATS connection for a backend; rejects with `options.code` when no server answers
 * within `timeout`.
 *
 * @example
 * ```ts
 * const link = await connectNats('nats://127.0.0.1:4222', { code: 'SL_ERR_BUS_UNAVAILABLE', label: 'nats bus', timeout: 2000 });
 * link.nc.publish('sl:bus.news', 'hi');
 * ```
 */
export async function connectNats(url: string, o: NatsConnectOptions): Promise<NatsLink> {
  const servers = natsServers(url, o.label);
  const { connect } = await loadPeer<TransportModule>('@nats-io/transport-node', `the ${o.label}`);
  try {
    const nc = await connect({
      servers,
      timeout: o.timeout,
      name: `stateline ${o.label}`,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      reconnectJitter: 100,
      // Capturing a stack for every request costs more than the request on a hot path.
      noAsyncTraces: true,
    });
    return new Link(nc, o.label, o.logger ?? processLogger());
  } catch (cause) {
    throw new StatelineError(
      o.code,
      `${o.label}: cannot reach ${servers.join(', ')} within ${o.timeout} ms: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
  }
}
