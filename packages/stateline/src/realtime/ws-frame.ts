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
  const [buf, head] = allocFrame(n);
  buf.write(json, head, 'utf8');
  return buf;
}

/** A text frame buffer for an `n`-byte payload, its header written; returns it and the header size. */
function allocFrame(n: number): [Buffer, number] {
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
  return [buf, head];
}

/** Where the payload of a frame built by {@link textFrame} starts. */
function payloadStart(frame: Buffer): number {
  const n = frame[1]! & 0x7f;
  return n < 126 ? 2 : n === 126 ? 4 : 10;
}

/**
 * One WebSocket text frame holding a JSON array of the payloads of `frames` (each a frame from
 * {@link textFrame} holding one JSON object): a batch frame. The payload bytes are copied, not
 * re-encoded.
 *
 * @example
 * ```ts
 * batchFrame([textFrame('{"a":1}'), textFrame('{"b":2}')]); // a frame holding [{"a":1},{"b":2}]
 * ```
 */
export function batchFrame(frames: readonly Buffer[]): Buffer {
  let n = frames.length + 1; // brackets and commas
  for (const f of frames) n += f.length - payloadStart(f);
  const [buf, head] = allocFrame(n);
  let at = head;
  buf[at++] = 0x5b; // [
  for (let i = 0; i < frames.length; i++) {
    if (i > 0) buf[at++] = 0x2c; // ,
    const f = frames[i]!;
    at += f.copy(buf, at, payloadStart(f));
  }
  buf[at] = 0x5d; // ]
  return buf;
}
