/**
 * A process of subscribing clients for the realtime bench. argv[2] is JSON
 * `{ mode, urls: [a, b], clients, maxSeq }`; client i connects to urls[i % 2]. Modes:
 * - `stateline`: raw `ws` sockets (opened with `?batch=1`) sending one `join`; the text of each
 *   message is found by a byte search (no JSON.parse) — as light as a WebSocket client gets; a
 *   batch frame (a JSON array of messages) is searched for each message in turn;
 * - `socketio`: the same for Socket.IO: Engine.IO/Socket.IO spoken directly over `ws`
 *   (./sio-raw.ts), the `42["msg","…"]` frame searched the same way;
 * - `stateline-failover`: the Stateline client library (reconnects to the other URL and resumes
 *   from its last offset);
 * - `socketio-failover`: the raw Socket.IO client; on close a new connection to the other URL
 *   after 50–150 ms (what an app does when an instance dies: this adapter has no resume).
 * Message text is `<seq>:<send time ms>`. IPC: `{ fx: 'reset' }` clears latencies; `{ fx: 'cpu' }`
 * answers with process.cpuUsage(); `{ fx: 'exit' }` exits cleanly (writing a `--cpu-prof` profile);
 * `{ fx: 'report', from, to }` answers with unique messages received in [from, to), duplicates,
 * reconnects and the latency histogram (µs, compressed).
 */
import * as hdr from 'hdr-histogram-js';
import WebSocket from 'ws';
import { connect, type WebSocketConstructor } from 'stateline/realtime/client';
import { openRawSocketIo } from './sio-raw.js';

interface Config {
  mode: 'stateline' | 'socketio' | 'stateline-failover' | 'socketio-failover';
  urls: [string, string];
  clients: number;
  maxSeq: number;
}

const config = JSON.parse(process.argv[2]!) as Config;
const seen = Array.from({ length: config.clients }, () => new Uint8Array(config.maxSeq + 1));
let duplicates = 0;
let reconnects = 0;
let histogram = hdr.build({
  lowestDiscernibleValue: 1,
  highestTrackableValue: 120_000_000,
  numberOfSignificantValueDigits: 3,
});
const now = () => performance.timeOrigin + performance.now();

/** Counts message `seq` for `client`, received at `at` (ms, the frame's arrival). */
function record(client: number, seq: number, sentAt: number, at: number): void {
  if (seq > config.maxSeq) return;
  const s = seen[client]!;
  if (s[seq]) duplicates++;
  else s[seq] = 1;
  histogram.recordValue(Math.max(1, Math.round((at - sentAt) * 1000)));
}

/** `"<seq>:<ms>"` → record. */
function recordText(client: number, text: string): void {
  const colon = text.indexOf(':');
  record(client, Number(text.slice(0, colon)), Number(text.slice(colon + 1)), now());
}

/**
 * Parses `<seq>:<ms>"` starting at byte `i` of a raw frame (digits read in place: no string is
 * made, the same for every system). Returns where it stopped.
 */
function recordAt(client: number, buf: Buffer, i: number, at: number): number {
  let seq = 0;
  for (let c = buf[i]!; c !== 0x3a; c = buf[++i]!) seq = seq * 10 + (c - 48);
  let ms = 0;
  let c = buf[++i]!;
  for (; c >= 48 && c <= 57; c = buf[++i]!) ms = ms * 10 + (c - 48);
  if (c === 0x2e) {
    let scale = 1;
    for (c = buf[++i]!; c >= 48 && c <= 57; c = buf[++i]!) {
      scale /= 10;
      ms += (c - 48) * scale;
    }
  }
  record(client, seq, ms, at);
  return i;
}

const TEXT = Buffer.from('"text":"');
/**
 * A hub frame: `{"type":"message",…,"text":"<seq>:<ms>"}` or a batch of them,
 * `[{"type":"message",…},…]` (other types are skipped).
 */
function recordHubFrame(client: number, buf: Buffer): void {
  const at = now();
  if (buf[0] === 0x5b) {
    for (let i = buf.indexOf(TEXT); i >= 0; i = buf.indexOf(TEXT, i))
      i = recordAt(client, buf, i + TEXT.length, at);
    return;
  }
  if (buf[9] !== 0x6d) return; // {"type":"m… — not a message (joined, presence)
  recordAt(client, buf, buf.indexOf(TEXT) + TEXT.length, at);
}

const ARG = Buffer.from('","');
/** A Socket.IO frame: `42["msg","<seq>:<ms>"]`. */
function recordSioFrame(client: number, buf: Buffer): void {
  recordAt(client, buf, buf.indexOf(ARG) + ARG.length, now());
}

const ready: Promise<void>[] = [];
for (let c = 0; c < config.clients; c++) {
  const home = config.urls[c % 2]!;
  const other = config.urls[(c + 1) % 2]!;
  if (config.mode === 'stateline') {
    ready.push(
      new Promise((resolve, reject) => {
        const ws = new WebSocket(`${home}?batch=1`, { perMessageDeflate: false });
        ws.on('error', reject);
        ws.on('open', () => ws.send('{"type":"join","room":"room"}'));
        ws.on('message', (data: Buffer) => {
          if (data[9] === 0x6a)
            resolve(); // {"type":"j… joined
          else recordHubFrame(c, data);
        });
      }),
    );
  } else if (config.mode === 'socketio') {
    ready.push(openRawSocketIo(home, (frame) => recordSioFrame(c, frame)).then(() => undefined));
  } else if (config.mode === 'stateline-failover') {
    const client = connect([home, other], {
      WebSocket: WebSocket as unknown as WebSocketConstructor,
      minDelay: 100,
      maxDelay: 2000,
    });
    client.on('message', (m) => recordText(c, m.text));
    client.on('open', () => client.stats.reconnects > 0 && reconnects++);
    ready.push(client.join('room').then(() => undefined));
  } else {
    const open = (url: string): Promise<void> =>
      openRawSocketIo(
        url,
        (frame) => recordSioFrame(c, frame),
        () => setTimeout(() => reopen(url === home ? other : home), 50 + Math.random() * 100),
      ).then(() => undefined);
    const reopen = (url: string): void => {
      open(url).then(
        () => reconnects++,
        () => setTimeout(() => reopen(url === home ? other : home), 100),
      );
    };
    ready.push(open(home));
  }
}
await Promise.all(ready);
process.send!({ fx: 'ready' });

process.on('message', (m: { fx?: string; from?: number; to?: number }) => {
  if (m?.fx === 'cpu') process.send!({ fx: 'cpu', cpu: process.cpuUsage() });
  else if (m?.fx === 'exit')
    process.exit(0); // a clean exit writes the --cpu-prof profile
  else if (m?.fx === 'reset') {
    histogram = hdr.build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: 120_000_000,
      numberOfSignificantValueDigits: 3,
    });
  } else if (m?.fx === 'report') {
    let received = 0;
    for (const s of seen) for (let q = m.from!; q < m.to!; q++) received += s[q]!;
    process.send!({
      fx: 'report',
      received,
      duplicates,
      reconnects,
      histogram: hdr.encodeIntoCompressedBase64(histogram),
    });
  }
});
process.on('disconnect', () => process.exit(0));
