import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';

/** How often idle keep-alive connections are closed while a drain waits. */
const SWEEP_MS = 100;

/**
 * Remembers the sockets `server` hands to its `upgrade` listeners (WebSockets), once the app
 * listens for upgrades: without a listener Node answers an upgrade request as a plain request,
 * and watching must not change that. The set drops a socket when it closes.
 */
export function trackUpgrades(server: Server): Set<Duplex> {
  const upgraded = new Set<Duplex>();
  const watch = (_req: unknown, socket: Duplex) => {
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
  };
  if (server.listenerCount('upgrade') > 0) server.on('upgrade', watch);
  else
    server.on('newListener', function added(event: string | symbol) {
      if (event !== 'upgrade') return;
      server.off('newListener', added);
      server.on('upgrade', watch);
    });
  return upgraded;
}

/**
 * Stops `server` accepting and resolves once its in-flight requests are answered. Keep-alive
 * connections are closed as soon as they go idle; whatever is still open after `timeout` ms is cut.
 * Sockets in `upgraded` (WebSockets the app took over) do not hold the drain: the app closes them
 * in its own `close` (a realtime hub says "going away", so clients reconnect elsewhere).
 */
export async function closeServer(
  server: Server,
  timeout: number,
  upgraded: ReadonlySet<Duplex> = new Set(),
): Promise<void> {
  let done = false;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  // Resolves once every connection still open is an upgraded one (none, when nothing was upgraded).
  const onlyUpgraded = new Promise<void>((resolve) => {
    const check = () => {
      if (done) return resolve();
      server.getConnections((err, n) => {
        if (done || (!err && n <= upgraded.size && upgraded.size > 0)) resolve();
        else setTimeout(check, SWEEP_MS);
      });
    };
    check();
  });
  // Keep-alive connections that go idle after the first sweep must be closed too.
  server.closeIdleConnections();
  const sweep = setInterval(() => server.closeIdleConnections(), SWEEP_MS);
  const cut = setTimeout(() => server.closeAllConnections(), timeout);
  try {
    await Promise.race([closed, onlyUpgraded]);
  } finally {
    done = true;
    clearInterval(sweep);
    clearTimeout(cut);
  }
}
