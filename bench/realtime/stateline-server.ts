/**
 * One Stateline hub instance for the realtime bench: Log + Bus on the server in argv[3] (a Redis
 * or NATS URL: Redis Streams + pub/sub, or JetStream + core NATS) under the prefix in argv[2], rate limit off (one publisher socket sends thousands of messages per
 * second), `flushInterval` from argv[4] when given, other options default. Reports `{ fx: 'ready', port }`; answers `{ fx: 'cpu' }` with process.cpuUsage().
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
// Until package.json exports `./realtime`, the bench imports the source (tsx runs it).
import { createHub } from 'stateline/realtime';

const [prefix = 'rtbench:', url = 'redis://127.0.0.1:6379', flush] = process.argv.slice(2);
process.on('warning', () => {});
const server = http.createServer((_req, res) => res.end('stateline realtime bench'));
const hub = await createHub({
  server,
  log: `${url}?prefix=${encodeURIComponent(prefix)}`,
  bus: `${url}?prefix=${encodeURIComponent(prefix)}`,
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
