/**
 * How a message is kept in the Log and carried on the Bus.
 *
 * Log entry data: `{"id","from","text"}` (offset and time are the Log's own), appended with the
 * key {@link logKey} so a resent message is stored once whichever instance receives it.
 * Bus payloads, one channel per room (first character = kind):
 * - `m[epoch,offset,from,id]\n<message frame JSON>`: a stored message, its frame pre-serialized,
 *   so receivers parse only the small header and write the frame as is;
 * - `h[epoch,offset]`: a stored message too large for the Bus (PostgreSQL NOTIFY): read the Log;
 * - `p[instance,heartbeatMs,[members…]]`: the members an instance holds in the room;
 * - `q[instance]`: a newcomer asks every instance to send `p` now.
 */

import { createHash } from 'node:crypto';
import type { AppendMessage } from '../log/types.js';

/** A message as stored in the Log. */
export interface StoredMessage {
  id: string;
  from: string;
  text: string;
}

export type BusMessage =
  | { kind: 'm'; epoch: string; offset: number; from: string; id: string; frame: string }
  | { kind: 'h'; epoch: string; offset: number }
  | { kind: 'p'; instance: string; heartbeat: number; members: string[] }
  | { kind: 'q'; instance: string };

/** The Log entry data for a message. */
export function storedData(m: StoredMessage): string {
  return JSON.stringify({ id: m.id, from: m.from, text: m.text });
}

/** Reads a Log entry's data; `null` when it is not a message (another writer, corruption). */
export function parseStored(data: string): StoredMessage | null {
  try {
    const v = JSON.parse(data) as Partial<Record<keyof StoredMessage, unknown>> | null;
    if (v && typeof v.id === 'string' && typeof v.from === 'string' && typeof v.text === 'string')
      return { id: v.id, from: v.from, text: v.text };
  } catch {
    /* not JSON */
  }
  return null;
}

/**
 * The `message` frame JSON from the entry data this hub wrote (`storedData`): no parse, the data's
 * fields are spliced in after the Log's.
 */
export function messageJson(room: string, offset: number, at: number, data: string): string {
  return `{"type":"message","room":${JSON.stringify(room)},"offset":${offset},"at":${at},${data.slice(1)}`;
}

/**
 * The Log append key of a sender's message id: fixed length (the Log takes up to 200 characters;
 * names and ids are longer together), no NUL.
 */
export function logKey(from: string, id: string): string {
  return createHash('sha256').update(from).update('\u0000').update(id).digest('base64url');
}

/** The dedup key of a sender's message id. */
export function dedupKey(from: string, id: string): string {
  return `${from}\u0000${id}`;
}

export function encodeBus(m: BusMessage): string {
  switch (m.kind) {
    case 'm':
      return `m${JSON.stringify([m.epoch, m.offset, m.from, m.id])}\n${m.frame}`;
    case 'h':
      return `h${JSON.stringify([m.epoch, m.offset])}`;
    case 'p':
      return `p${JSON.stringify([m.instance, m.heartbeat, m.members])}`;
    case 'q':
      return `q${JSON.stringify([m.instance])}`;
  }
}

/**
 * The `m` Bus payload of a message about to be appended, as a Log template: filled with the
 * entry's epoch, offset and time it is exactly `encodeBus({ kind: 'm', …, frame: messageJson(…) })`.
 */
export function messageTemplate(
  channel: string,
  room: string,
  from: string,
  id: string,
  data: string,
): AppendMessage {
  return {
    channel,
    text: [
      'm[',
      ',',
      `,${JSON.stringify(from)},${JSON.stringify(id)}]\n{"type":"message","room":${JSON.stringify(room)},"offset":`,
      ',"at":',
      `,${data.slice(1)}`,
    ],
    fields: ['epoch', 'offset', 'offset', 'at'],
  };
}

const isStr = (v: unknown): v is string => typeof v === 'string';
const isOffset = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) > 0;

/** Decodes a Bus payload; `null` for anything else (foreign or damaged traffic is ignored). */
export function decodeBus(payload: string): BusMessage | null {
  try {
    const kind = payload[0];
    if (kind === 'm') {
      const nl = payload.indexOf('\n');
      if (nl < 0) return null;
      const h = JSON.parse(payload.slice(1, nl)) as unknown[];
      if (!Array.isArray(h) || !isStr(h[0]) || !isOffset(h[1]) || !isStr(h[2]) || !isStr(h[3])) return null;
      return { kind, epoch: h[0], offset: h[1], from: h[2], id: h[3], frame: payload.slice(nl + 1) };
    }
    const v = JSON.parse(payload.slice(1)) as unknown[];
    if (!Array.isArray(v)) return null;
    if (kind === 'h' && isStr(v[0]) && isOffset(v[1])) return { kind, epoch: v[0], offset: v[1] };
    if (
      kind === 'p' &&
      isStr(v[0]) &&
      typeof v[1] === 'number' &&
      v[1] > 0 &&
      Array.isArray(v[2]) &&
      v[2].every(isStr)
    )
      return { kind, instance: v[0], heartbeat: v[1], members: v[2] };
    if (kind === 'q' && isStr(v[0])) return { kind, instance: v[0] };
  } catch {
    /* damaged */
  }
  return null;
}
