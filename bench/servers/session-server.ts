/**
 * One row's server, in its own process: `node --import tsx bench/servers/session-server.ts <row> <redis-prefix> [cart-items]`
 * (cart-items: Express rows put a cart of that many lines in each session on its first hit; bench/growth.bench.ts).
 * Started by bench/sessions.bench.ts with an IPC channel: it reports `{ type: 'ready', port }`,
 * answers `'stats'`, and exits on `'stop'`, SIGTERM or when the bench goes away (never an orphan).
 */
import { startExpress } from './express-rows.js';
import { startFastify } from './fastify-rows.js';
import type { ChildMessage } from './rows.js';
import type { RunningApp } from './running-app.js';
import { Stats } from './stats.js';

const [row, prefix = 'slbench:', items = '0'] = process.argv.slice(2);
const stats = new Stats();
let app: RunningApp | undefined;
let stopping = false;

function send(msg: ChildMessage): void {
  if (process.connected) process.send?.(msg);
}

async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    const timer = setTimeout(() => process.exit(code), 5000);
    timer.unref();
    await app?.close().catch((err: unknown) => console.error(`${row}: close failed:`, err));
  }
  // process.exit (not a kill) so --cpu-prof writes its profile.
  process.exit(code);
}

process.on('message', (msg: unknown) => {
  if (msg === 'stats') send({ type: 'stats', stats: stats.snapshot() });
  else if (msg === 'stop') void stop(0);
});
process.on('disconnect', () => void stop(0));
process.on('SIGTERM', () => void stop(0));
process.on('SIGINT', () => void stop(0));

try {
  if (!row) throw new Error('usage: session-server.ts <row> <redis-prefix>');
  app = row.startsWith('fastify')
    ? await startFastify(row, prefix, stats)
    : await startExpress(row, prefix, stats, Number(items));
  send({ type: 'ready', port: app.port });
} catch (err) {
  send({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  await stop(1);
}
