import type { Server } from 'node:http';

/** How often idle keep-alive connections are closed while a drain waits. */
const SWEEP_MS = 100;

/**
 * Stops `server` accepting and resolves once its in-flight requests are answered. Keep-alive
 * connections are closed as soon as they go idle; whatever is still open after `timeout` ms is cut.
 */
export async function closeServer(server: Server, timeout: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  // Keep-alive connections that go idle after the first sweep must be closed too.
  server.closeIdleConnections();
  const sweep = setInterval(() => server.closeIdleConnections(), SWEEP_MS);
  const cut = setTimeout(() => server.closeAllConnections(), timeout);
  try {
    await closed;
  } finally {
    clearInterval(sweep);
    clearTimeout(cut);
  }
}
