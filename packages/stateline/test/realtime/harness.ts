/**
 * In-process hubs on port 0 for the single-process tests. Hubs made by one Harness share a Log
 * and a Bus (a private MemoryBus hub), so several of them behave as instances of one hub.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import WebSocket from 'ws';
import { MemoryBus } from '../../src/bus/index.js';
import type { Bus } from '../../src/bus/types.js';
import { MemoryLog } from '../../src/log/index.js';
import type { Log, Retention } from '../../src/log/types.js';
import { createHub } from '../../src/realtime/index.js';
import {
  connect,
  type ClientOptions,
  type RealtimeClient,
  type WebSocketConstructor,
} from '../../src/realtime/client.js';
import type { Hub, HubOptions } from '../../src/realtime/types.js';

export const WS = WebSocket as unknown as WebSocketConstructor;

export interface Running {
  hub: Hub;
  server: http.Server;
  port: number;
  url: string;
  /** Every TCP socket the server accepted (upgraded ones included), for `crash`. */
  sockets: Set<Duplex>;
}

export class Harness {
  readonly log: Log;
  readonly busHub = {};
  private readonly running: Running[] = [];
  private readonly clients: RealtimeClient[] = [];

  constructor(options: { log?: Log; retention?: Retention } = {}) {
    this.log = options.log ?? new MemoryLog(options.retention ? { retention: options.retention } : {});
  }

  bus(): Bus {
    return new MemoryBus({ hub: this.busHub });
  }

  /** A hub instance on its own server; `bus` defaults to one on this harness's shared memory hub. */
  async start(options: Partial<HubOptions> = {}): Promise<Running> {
    const server = http.createServer((_req, res) => res.end('not a websocket'));
    const sockets = new Set<Duplex>();
    server.on('connection', (s) => {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
    });
    const hub = await createHub({ log: this.log, bus: this.bus(), server, pingInterval: false, ...options });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const run = { hub, server, port, url: `ws://127.0.0.1:${port}${options.path ?? '/realtime'}`, sockets };
    this.running.push(run);
    return run;
  }

  client(url: string | string[], options: ClientOptions = {}): RealtimeClient {
    const c = connect(url, { WebSocket: WS, minDelay: 20, maxDelay: 200, ...options });
    this.clients.push(c);
    return c;
  }

  /** Stops one instance abruptly: sockets are destroyed (no close frame), as when a process dies. */
  async crash(run: Running): Promise<void> {
    for (const s of run.sockets) s.destroy();
    await run.hub.close();
    await new Promise<void>((r) => run.server.close(() => r()));
  }

  async close(): Promise<void> {
    for (const c of this.clients) c.close();
    for (const r of this.running) {
      await r.hub.close();
      for (const s of r.sockets) s.destroy();
      await new Promise<void>((res) => r.server.close(() => res()));
    }
    await this.log.close();
  }
}
