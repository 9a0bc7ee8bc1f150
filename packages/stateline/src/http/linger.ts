import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';

/** How long a connection closed before its request body was read keeps reading (and dropping) it. */
export const LINGER_MS = 3000;

/** The request a socket carries now, set by the request handler ({@link trackRequest}). */
const CURRENT = Symbol('stateline.current-request');
type Tracked = Socket & { [CURRENT]?: IncomingMessage };

/** Remembers `req` as its connection's current request, for {@link lingerOnEarlyClose}. */
export function trackRequest(req: IncomingMessage): void {
  (req.socket as Tracked)[CURRENT] = req;
}

/**
 * Makes the server's `Connection: close` answers to requests whose body was not read (an early
 * 413, say) close the connection cleanly (RFC 9112 §9.6). Node closes such a socket as soon as the
 * answer is flushed; with the client's unread upload still arriving, the kernel then resets the
 * connection, and the reset can destroy the answer before the client reads it. Here the answer is
 * flushed and the write side closed, and the rest of the body is read and dropped until the client
 * closes its side, for at most `ms`. The request handler must call {@link trackRequest}.
 *
 * @example
 * ```ts
 * const server = http.createServer((req, res) => { trackRequest(req); handle(req, res); });
 * lingerOnEarlyClose(server);
 * ```
 */
export function lingerOnEarlyClose(server: Server, ms = LINGER_MS): void {
  server.on('connection', (socket: Tracked) => {
    const destroySoon = socket.destroySoon;
    socket.destroySoon = function (this: Tracked): void {
      const req = this[CURRENT];
      if (req === undefined || req.complete || this.destroyed) return destroySoon.call(this);
      // Whoever stopped reading may have paused it: what is left is dropped.
      req.resume();
      this.end();
      const timer = setTimeout(() => this.destroy(), ms);
      timer.unref();
      this.once('close', () => clearTimeout(timer));
      this.once('end', () => this.destroy());
    };
  });
}
