import type { IncomingMessage } from 'node:http';

/** True for 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6. */
function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  return a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

/**
 * The client's address. Instances listen on loopback behind the gateway, which appends the address
 * it saw to `X-Forwarded-For`; only that last entry is the gateway's word (earlier ones are whatever
 * the client sent). A request that did not come through a local proxy is judged by its socket.
 *
 * @example
 * ```ts
 * clientAddress(req); // '203.0.113.9' for X-Forwarded-For: "1.2.3.4, 203.0.113.9" from 127.0.0.1
 * ```
 */
export function clientAddress(req: IncomingMessage): string {
  const peer = req.socket.remoteAddress ?? 'unknown';
  const xff = req.headers['x-forwarded-for'];
  if (!isLoopback(peer) || xff === undefined) return peer;
  const list = (Array.isArray(xff) ? xff.join(',') : xff).split(',');
  const last = list[list.length - 1]!.trim();
  return last === '' ? peer : last;
}
