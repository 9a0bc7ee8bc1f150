/**
 * One Stateline hub instance for the realtime bench: Log + Bus on the server in argv[3] under the
 * prefix in argv[2] — `redis://…` (Streams + pub/sub), `redis-cluster://h:p,…` (both on a cluster)
 * or `nats://…` (JetStream + core NATS) — rate limit off (one publisher socket sends thousands of messages per
 * second), `flushInterval` from argv[4] when given, other options default. Reports `{ fx: 'ready', port }`; answers `{ fx: 'cpu' }` with process.cpuUsage().
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
// Until package.json exports `./realtime`, the bench imports the source (tsx runs it).
import { createHub } from 'stateline/realtime';

const [prefix = 'rtbench:', url = 'redis://127.0.0.1:6379', flush] = process.argv.slice(2);
process.on('warning', () => {});
const server = http.createServer((_req, res) => res.end('stateline realtime bench'));
const nodes = url.startsWith('redis-cluster://')
  ? url
      .slice('redis-cluster://'.length)
      .split(',')
      .map((h) => `redis://${h}`)
  : null;
const hub = await createHub({
  server,
  log: nodes ? { type: 'redis-cluster', nodes, prefix } : `${url}?prefix=${encodeURIComponent(prefix)}`,
  bus: nodes ? { type: 'redis-cluster', nodes, prefix } : `${url}?prefix=${encodeURIComponent(prefix)}`,
  rateLimit: false,
  pingInterval: false,
  ...(flush !== undefined && flush !== '' && { flushInterval: Number(flush) }),
});
server.listen(0, '127.0.0.1', () =>
  process.send!({ fx: 'ready', port: (server.address() as AddressInfo).port }),
);
process.on('message', (m: { fx?: string }) => {
  if (m?.fx === 'cpu') process.send!({ fx: 'cpu', cpu: process.cpuUsage(), stats: hub.stats });
});
process.on('message', (m: { fx?: string }) => {
  if (m?.fx === 'exit') process.exit(0); // a clean exit writes the --cpu-prof profile
});
process.on('disconnect', () => process.exit(0));
