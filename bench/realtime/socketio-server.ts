/**
 * One Socket.IO instance for the realtime bench: websocket transport only, no compression,
 * @socket.io/redis-adapter on node-redis (key prefix in argv[2]). Every socket joins `room`; a
 * `send` event is broadcast to the room as `msg` (the same work the hub's fan-out does, minus
 * storing). Reports `{ fx: 'ready', port }`; answers `{ fx: 'cpu' }` with process.cpuUsage().
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdapter } from '@socket.io/redis-adapter';
import { createClient } from 'redis';
import { Server } from 'socket.io';

const [key = 'rtbench-sio', redisUrl = 'redis://127.0.0.1:6379'] = process.argv.slice(2);
const pub = createClient({ url: redisUrl });
const sub = pub.duplicate();
pub.on('error', () => {});
sub.on('error', () => {});
await Promise.all([pub.connect(), sub.connect()]);
const server = http.createServer((_req, res) => res.end('socket.io realtime bench'));
const io = new Server(server, {
  transports: ['websocket'],
  perMessageDeflate: false,
  serveClient: false,
  adapter: createAdapter(pub, sub, { key }),
});
io.on('connection', (socket) => {
  void socket.join('room');
  socket.on('send', (text: string) => io.to('room').emit('msg', text));
});
server.listen(0, '127.0.0.1', () =>
  process.send!({ fx: 'ready', port: (server.address() as AddressInfo).port }),
);
process.on('message', (m: { fx?: string }) => {
  if (m?.fx === 'cpu') process.send!({ fx: 'cpu', cpu: process.cpuUsage() });
});
process.on('message', (m: { fx?: string }) => {
  if (m?.fx === 'exit') process.exit(0); // a clean exit writes the --cpu-prof profile
});
process.on('disconnect', () => process.exit(0));
