import net from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { SL_ERR_BAD_REQUEST } from 'stateline/http';
import { rawProblem } from './client-error.js';
import { cookieValue } from './cookie.js';
import { SL_ERR_NO_INSTANCE, SL_ERR_UPSTREAM_FAILED } from './errors.js';
import type { ExchangeContext } from './exchange.js';
import { requestHead } from './forward-headers.js';
import { hashKey } from './hash-ring.js';
import type { Instance } from './instance.js';

/**
 * Proxies an HTTP upgrade (WebSocket): picks the instance as for any request (the sticky or hashed
 * one where that applies), opens a TCP connection to it, writes the request head, then pipes the
 * raw sockets both ways. A connection that fails before anything was sent goes to another
 * instance; once connected, either side closing closes both. Live sockets are kept in `live` so
 * the gateway can close them.
 */
export function proxyUpgrade(
  ctx: ExchangeContext,
  req: IncomingMessage,
  client: Duplex,
  early: Buffer,
  live: Set<Duplex>,
): void {
  client.on('error', () => client.destroy());
  const url = req.url ?? '/';
  if (url.charCodeAt(0) !== 47) {
    client.end(rawProblem(SL_ERR_BAD_REQUEST, 'the request target must be a path'));
    return;
  }
  const options = ctx.options;
  const head = requestHead(req.rawHeaders, req.socket.remoteAddress, options.hashHeader, options.proof);
  let stickyId: string | undefined;
  let hash: number | undefined;
  if (options.balance === 'sticky') stickyId = cookieValue(head.cookie, options.stickyCookie);
  else if (options.balance === 'hash') {
    let key = head.hashValue;
    for (
      let k = 0;
      options.hashHeader === undefined && key === undefined && k < options.hashCookies.length;
      k++
    ) {
      key = cookieValue(head.cookie, options.hashCookies[k]!);
    }
    if (key) hash = hashKey(key);
  }
  let text = `${req.method ?? 'GET'} ${url} HTTP/1.1\r\n`;
  for (let k = 0; k < head.headers.length; k += 2) text += `${head.headers[k]}: ${head.headers[k + 1]}\r\n`;
  text += `connection: upgrade\r\nupgrade: ${req.headers.upgrade ?? 'websocket'}\r\n\r\n`;
  const requestBytes = Buffer.from(text, 'latin1');
  const tried: Instance[] = [];

  const attempt = (instance: Instance | undefined): void => {
    if (client.destroyed) return;
    if (instance === undefined) {
      client.end(
        tried.length === 0
          ? rawProblem(SL_ERR_NO_INSTANCE, 'no instance is up; retry shortly', { 'retry-after': '1' })
          : rawProblem(SL_ERR_UPSTREAM_FAILED, `could not connect to ${tried.map((i) => i.id).join(', ')}`),
      );
      return;
    }
    const upstream = net.connect({ host: instance.hostname, port: instance.port });
    upstream.setNoDelay(true);
    upstream.setTimeout(options.connectTimeout, () => upstream.destroy(new Error('connect timeout')));
    const onConnectError = (): void => {
      ctx.set.passiveFailure(instance);
      tried.push(instance);
      attempt(tried.length > options.attempts ? undefined : ctx.set.balancer.pick(stickyId, hash, tried));
    };
    upstream.once('error', onConnectError);
    // The client may leave while we connect.
    const onEarlyClose = (): void => void upstream.destroy();
    client.once('close', onEarlyClose);
    upstream.once('connect', () => {
      upstream.setTimeout(0);
      upstream.off('error', onConnectError);
      client.off('close', onEarlyClose);
      if (client.destroyed) {
        upstream.destroy();
        return;
      }
      upstream.on('error', () => upstream.destroy());
      instance.websockets++;
      live.add(client);
      let closed = false;
      const closeBoth = (): void => {
        if (closed) return;
        closed = true;
        instance.websockets--;
        live.delete(client);
        client.destroy();
        upstream.destroy();
      };
      upstream.once('close', closeBoth);
      client.once('close', closeBoth);
      upstream.write(requestBytes);
      if (early.length > 0) upstream.write(early);
      upstream.pipe(client);
      client.pipe(upstream);
    });
  };

  attempt(ctx.set.balancer.pick(stickyId, hash, undefined));
}
