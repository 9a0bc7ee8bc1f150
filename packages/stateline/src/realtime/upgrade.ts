import { STATUS_CODES, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { WebSocket, WebSocketServer } from 'ws';
import { isStatelineError } from '../errors.js';
import { requestContext } from '../session/request-context.js';
import type { SessionManager } from '../session/types.js';
import type { ResolvedHubOptions } from './options.js';
import { CLOSE_CODES } from './protocol.js';
import type { Identity } from './types.js';
import type { WsModule } from './ws-peer.js';

/** Anonymous ids a client may bring (`?anon=`) so it keeps one name across reconnects. */
const ANON_ID = /^[\w-]{8,64}$/;
const noop = () => {};

/**
 * Takes an accepted WebSocket, its upgraded TCP socket, who is on it and whether the client reads
 * batch frames (it asked with `?batch=1`).
 */
export type AcceptSocket = (ws: WebSocket, raw: Duplex, who: Identity, batches: boolean) => void;

/** Writes a plain HTTP answer on an upgrade socket and closes it. */
function refuse(socket: Duplex, status: number, detail: string): void {
  if (socket.destroyed) return;
  const body = `${detail}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  setTimeout(() => socket.destroy(), 1000).unref();
}

/**
 * The hub's door: answers HTTP upgrade requests on its path, checks the `Origin`, authenticates
 * the session cookie, names the socket (user id, or `anon:<id>`), completes the WebSocket
 * handshake (no compression, `maxPayload` enforced by `ws`) and hands the socket over. A refusal
 * before the handshake is a plain HTTP answer; after it, a close code.
 *
 * @example
 * ```ts
 * const gate = new UpgradeGate(options, await loadWs(), sessions, (ws, raw, who) => adopt(ws, raw, who), warn);
 * const detach = gate.attach(server);
 * ```
 */
export class UpgradeGate {
  private readonly wss: WebSocketServer;
  private readonly detachers = new Set<() => void>();
  private closed = false;

  constructor(
    private readonly o: ResolvedHubOptions,
    ws: WsModule,
    private readonly sessions: SessionManager | undefined,
    private readonly accept: AcceptSocket,
    private readonly warn: (message: string, err?: unknown) => void,
  ) {
    this.wss = new ws.WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      maxPayload: o.maxPayload,
      clientTracking: false,
    });
    this.wss.on('error', noop);
  }

  /** Answers upgrades on the hub's path; returns a function that detaches. */
  attach(server: HttpServer | HttpsServer): () => void {
    const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path === this.o.path) return this.handleUpgrade(req, socket, head);
      // Nobody else answers upgrades here: do not leave the client hanging.
      if (server.listenerCount('upgrade') === 1) refuse(socket, 404, `no WebSocket endpoint at ${path}`);
    };
    server.on('upgrade', onUpgrade);
    const detach = () => {
      server.off('upgrade', onUpgrade);
      this.detachers.delete(detach);
    };
    this.detachers.add(detach);
    return detach;
  }

  /** Takes over an upgrade request, whatever its path. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', noop); // a reset during the handshake must not crash the process
    this.upgrade(req, socket, head).catch((err: unknown) => {
      this.warn('realtime: upgrade failed', err);
      refuse(socket, 500, 'SL_ERR_INTERNAL');
    });
  }

  /** Refuses upgrades from now on and detaches from every server. */
  stop(): void {
    this.closed = true;
    for (const d of [...this.detachers]) d();
  }

  /** Closes the WebSocket server (once its sockets were closed). */
  close(): Promise<void> {
    return new Promise<void>((r) => this.wss.close(() => r()));
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    if (this.closed) return refuse(socket, 503, 'the realtime hub is shutting down');
    if (!this.originAllowed(req))
      return refuse(socket, 403, 'this Origin may not open a realtime connection');
    let userId: string | null = null;
    let handle: string | null = null;
    if (this.sessions) {
      try {
        const s = await this.sessions.load(requestContext(req));
        userId = s.userId;
        handle = s.handle;
      } catch (err) {
        return isStatelineError(err)
          ? refuse(socket, err.status, err.code)
          : refuse(socket, 500, 'SL_ERR_INTERNAL');
      }
    }
    if (socket.destroyed || this.closed) return;
    const query = new URL(req.url ?? '/', 'http://h').searchParams;
    const anon = query.get('anon');
    const batches = query.get('batch') === '1';
    const who: Identity = {
      userId,
      handle,
      name: userId ?? `anon:${anon && ANON_ID.test(anon) ? anon : randomUUID()}`,
    };
    this.wss.handleUpgrade(req, socket, head, (ws) => this.opened(ws, socket, who, batches));
  }

  private originAllowed(req: IncomingMessage): boolean {
    const origin = req.headers.origin;
    if (origin === undefined || this.o.origins === '*') return true; // non-browser clients send none
    if (Array.isArray(this.o.origins)) return this.o.origins.includes(origin);
    try {
      return new URL(origin).host === req.headers.host;
    } catch {
      return false;
    }
  }

  private opened(ws: WebSocket, raw: Duplex, who: Identity, batches: boolean): void {
    ws.on('error', noop); // ws closes the socket itself; nothing to add
    if (this.closed) return void ws.close(CLOSE_CODES.GOING_AWAY, 'SL_ERR_CLOSED');
    if (who.userId === null && !this.o.anonymous)
      return void ws.close(CLOSE_CODES.UNAUTHENTICATED, 'SL_ERR_REALTIME_UNAUTHENTICATED');
    this.accept(ws, raw, who, batches);
  }
}
