import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';
import { WebSocketServer } from 'ws';

/** What `/big` sends: more than socket buffers hold, so a slow reader exercises backpressure. */
export const BIG_BYTES = 4_000_000;

/** What a test backend saw of one request. */
export interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  bodyBytes: number;
}

/**
 * A tiny node:http instance for gateway tests. It answers its id (body and X-Stateline-Instance)
 * and understands a few paths that misbehave on purpose:
 * `/healthz` (200, or 503 while `healthy` is false), `/slow?ms=N`, `/reset` (drops the connection
 * without answering), `/partial` (sends headers and part of a body, then drops), `/status/<code>`,
 * `/ws` (a WebSocket echo), `/early-413` (answers 413 before reading the body, then drops the
 * connection with the body unread, as a rude server does). `kill()` closes the port and every connection, like a dead process.
 */
export class Backend {
  readonly seen: Seen[] = [];
  healthy = true;
  /** `/stream` responses whose client went away before the end. */
  streamsClosedEarly = 0;
  /** When set, every request but health checks is answered with this status. */
  answer: number | undefined;
  port = 0;
  private readonly server: http.Server;
  private readonly sockets = new Set<Socket>();
  private readonly wss: WebSocketServer;

  constructor(readonly id: string) {
    // A request the gateway aborts mid-body rejects the read: that is expected, not a failure.
    this.server = http.createServer((req, res) => void this.handle(req, res).catch(() => res.destroy()));
    this.server.keepAliveTimeout = 5000;
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.wss = new WebSocketServer({ noServer: true });
    this.server.on('upgrade', (req, socket, head) => {
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        ws.on('message', (data, isBinary) => ws.send(isBinary ? data : `${this.id}:${String(data)}`));
      });
    });
  }

  /** Requests other than health checks. */
  get hits(): Seen[] {
    return this.seen.filter((s) => s.url !== '/healthz');
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(port = 0): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  /** Closes the port and cuts every connection at once. */
  async kill(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (req.url === '/early-413') {
      this.seen.push({ method: req.method ?? '', url: req.url, headers: req.headers, bodyBytes: 0 });
      res.writeHead(413, { 'content-type': 'text/plain', 'x-stateline-instance': this.id });
      res.end(`${this.id}:413`, () => req.socket.destroy());
      return;
    }
    let bodyBytes = 0;
    for await (const chunk of req) bodyBytes += (chunk as Buffer).length;
    const url = req.url ?? '/';
    this.seen.push({ method: req.method ?? '', url, headers: req.headers, bodyBytes });
    res.setHeader('x-stateline-instance', this.id);
    if (url === '/healthz') {
      res.writeHead(this.healthy ? 200 : 503).end(this.healthy ? 'ok' : 'unhealthy');
      return;
    }
    if (this.answer !== undefined) {
      res.writeHead(this.answer, { 'content-type': 'text/plain' }).end(`${this.id}:${this.answer}`);
      return;
    }
    if (url.startsWith('/slow')) {
      const ms = Number(new URL(url, 'http://x').searchParams.get('ms') ?? '200');
      await new Promise((r) => setTimeout(r, ms));
    }
    if (url === '/reset') {
      req.socket.destroy();
      return;
    }
    if (url === '/stream') {
      // Writes for two seconds unless the connection goes first.
      res.writeHead(200, { 'content-type': 'text/plain' });
      const timer = setInterval(() => res.write('x'.repeat(1000)), 10);
      const stop = setTimeout(() => res.end(), 2000);
      res.on('close', () => {
        clearInterval(timer);
        clearTimeout(stop);
        this.streamsClosedEarly += res.writableFinished ? 0 : 1;
      });
      return;
    }
    if (url.startsWith('/big')) {
      // BIG_BYTES in 1,000-byte writes that wait for the socket to drain.
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(BIG_BYTES) });
      for (let sent = 0; sent < BIG_BYTES; sent += 1000) {
        if (!res.write('y'.repeat(1000))) await new Promise((r) => res.once('drain', r));
      }
      res.end();
      return;
    }
    if (url === '/hop') {
      res.writeHead(200, {
        connection: 'keep-alive, x-internal',
        'x-internal': 'secret',
        'keep-alive': 'timeout=5',
      });
      res.end(JSON.stringify(req.headers));
      return;
    }
    if (url === '/partial') {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '100' });
      res.write('x'.repeat(10));
      setTimeout(() => req.socket.destroy(), 20);
      return;
    }
    const status = /^\/status\/(\d{3})/.exec(url);
    if (status) {
      res.writeHead(Number(status[1]), { 'content-type': 'text/plain' }).end(`${this.id}:${status[1]}`);
      return;
    }
    if (url === '/headers') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(req.headers));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain', 'x-body-bytes': String(bodyBytes) }).end(this.id);
  }
}

/** Starts `n` backends `b1…bn`. */
export async function startBackends(n: number): Promise<Backend[]> {
  return Promise.all(Array.from({ length: n }, (_, k) => new Backend(`b${k + 1}`).start()));
}
