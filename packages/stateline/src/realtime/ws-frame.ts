/**
 * A complete, unmasked WebSocket text frame (RFC 6455 §5.2, FIN set, no extensions) holding
 * `json`. The hub builds it once per message and writes the same Buffer to every local socket, so
 * fan-out costs no per-socket encoding. Only valid while `perMessageDeflate` is off.
 *
 * @example
 * ```ts
 * raw.write(textFrame('{"type":"pong"}'));
 * ```
 */
export function textFrame(json: string): Buffer {
  const n = Buffer.byteLength(json);
  const head = n < 126 ? 2 : n < 65_536 ? 4 : 10;
  const buf = Buffer.allocUnsafe(head + n);
  buf[0] = 0x81;
  if (n < 126) buf[1] = n;
  else if (n < 65_536) {
    buf[1] = 126;
    buf.writeUInt16BE(n, 2);
  } else {
    buf[1] = 127;
    buf.writeUInt32BE(Math.floor(n / 2 ** 32), 2);
    buf.writeUInt32BE(n >>> 0, 6);
  }
  buf.write(json, head, 'utf8');
  return buf;
}
