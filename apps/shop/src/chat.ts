import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Bus } from 'stateline/bus';
import { createHub, type Hub, type RoomPolicy } from 'stateline/realtime';
import type { Logger } from 'stateline/logger';
import type { SessionManager } from 'stateline/session';

/** The chat's WebSocket path and its one room. */
export const CHAT_PATH = '/ws';
export const LOBBY = 'lobby';
/** Log backends that can hold room history; the Store spec names one of them in every normal setup. */
const LOG_SCHEMES = [
  'memory:',
  'sqlite:',
  'redis:',
  'rediss:',
  'redis-cluster:',
  'redis+sentinel:',
  'postgres:',
  'postgresql:',
];

/** Bus backends whose server also keeps Logs: the chat's history then goes there. */
const BUS_LOG_SCHEMES = ['nats:'];

/**
 * The Log spec for the chat's history: the Bus's server when it keeps Logs too (NATS with
 * JetStream), else the Store's own backend when it can be a Log (SQLite, Redis, Redis Cluster,
 * PostgreSQL), else in-process memory (history then lives per instance; live messages still cross
 * instances over the Bus).
 *
 * @example
 * ```ts
 * chatLogSpec('redis://127.0.0.1:6379?prefix=shop:');          // the same string
 * chatLogSpec('redis-cluster://h1:7000,h2:7001');               // the same string: one stream per room, sharded
 * chatLogSpec('sqlite:state.db', 'nats://127.0.0.1:4222');      // 'nats://127.0.0.1:4222'
 * ```
 */
export function chatLogSpec(storeSpec: string, busSpec = ''): string {
  if (BUS_LOG_SCHEMES.some((s) => busSpec.startsWith(s))) return busSpec;
  return LOG_SCHEMES.some((s) => storeSpec.startsWith(s)) ? storeSpec : 'memory:';
}

/**
 * The chat: a realtime hub on the instance's Bus, for logged-in users only, with one room,
 * `lobby` (presence and history), plus the read-only rooms `rooms` allows (the drops' and shared
 * lists' live rooms). Messages carry `{ from, text, at }`, `from` being the user id.
 *
 * @example
 * ```ts
 * const hub = await createChat({ bus, sessions, storeSpec, busSpec, instance: 'i1' });
 * server.on('upgrade', (req, socket, head) => upgradeChat(hub, req, socket, head));
 * ```
 */
export function createChat(o: {
  bus: Bus;
  sessions: SessionManager;
  storeSpec: string;
  /** The Bus's spec: a `nats://` Bus's server also keeps the history. */
  busSpec?: string;
  instance: string;
  logger?: Logger;
  /** Rooms besides the lobby (the entities' live rooms), or null; a join waits for a promise. */
  rooms?: (name: string) => RoomPolicy | null | Promise<RoomPolicy | null>;
}): Promise<Hub> {
  return createHub({
    log: chatLogSpec(o.storeSpec, o.busSpec),
    history: { maxCount: 1000 },
    bus: o.bus,
    sessions: o.sessions,
    anonymous: false,
    rooms: (name) => (name === LOBBY ? { anonymous: false } : (o.rooms?.(name) ?? null)),
    instanceId: o.instance,
    prefix: 'shop:rt:',
    ...(o.logger ? { logger: o.logger } : {}),
  });
}

/**
 * Hands `/ws` upgrades to the hub; any other upgrade is refused with 404 and closed.
 *
 * @example
 * ```ts
 * upgradeChat(hub, req, socket, head);
 * ```
 */
export function upgradeChat(hub: Hub, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  const path = (req.url ?? '/').split('?', 1)[0];
  if (path === CHAT_PATH) return hub.handleUpgrade(req, socket, head);
  socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
}
