/**
 * Self-test of bench/servers/http-loader.ts: `node --import tsx bench/servers/http-loader.selftest.ts`.
 * Exits 1 on the first wrong count, body or cookie.
 *
 * 1. The parser alone: a byte string of varied answers (Content-Length, chunked with extensions and
 *    trailers, 1xx, 204, several Set-Cookie lines in mixed case, HTTP/1.0, UTF-8) fed whole, byte
 *    by byte, split at every offset and at random offsets must give the same messages; malformed
 *    input must throw.
 * 2. A node:http server on port 0 loaded for 2 s: Content-Length, chunked and 100 KB bodies, three
 *    Set-Cookie lines, answers written one byte at a time, a 418 every 13th answer of a connection
 *    and `Connection: close` on every 10th request. Every answer is checked against what the server
 *    meant to send, the cookie the loader sends back against the last one set, and the totals
 *    against the server's.
 * 3. Trouble: garbage answers, refused connections, closes without an answer, no answer at all
 *    (timeouts), a hook that throws. Counted, never a crash.
 */
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { httpLoad, ResponseParser, type ConnectionHooks } from './http-loader.js';

process.on('unhandledRejection', (err) => {
  console.error('FAIL: unhandled rejection', err);
  process.exit(1);
});

interface Msg {
  status: number;
  body: string;
  cookies: string[];
  close: boolean;
}

// ── 1. parser ───────────────────────────────────────────────────────────────────────────────
const vectors: { raw: Buffer; expect: Msg }[] = [
  [
    'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nKeep-Alive: timeout=5\r\nContent-Length: 11\r\n\r\n{"hits":1}\n',
    { status: 200, body: '{"hits":1}\n', cookies: [], close: false },
  ],
  [
    'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nset-cookie: a=1; Path=/\r\nSET-COOKIE: b=2\r\nSet-Cookie:   c=3  \r\ncontent-length: 0\r\n\r\n',
    { status: 201, body: '', cookies: ['a=1; Path=/', 'b=2', 'c=3'], close: false },
  ],
  [
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n5;ext=1\r\nhello\r\nA\r\n, world!!!\r\n0\r\nX-Trailer: yes\r\n\r\n',
    { status: 200, body: 'hello, world!!!', cookies: [], close: false },
  ],
  [
    'HTTP/1.1 404 Not Found\r\nConnection: keep-alive, Close\r\nContent-Length: 3\r\n\r\nnop',
    { status: 404, body: 'nop', cookies: [], close: true },
  ],
  [
    'HTTP/1.1 204 No Content\r\nSet-Cookie: gone=; Max-Age=0\r\n\r\n',
    { status: 204, body: '', cookies: ['gone=; Max-Age=0'], close: false },
  ],
  ['HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok', { status: 200, body: 'ok', cookies: [], close: true }],
  [
    'HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok',
    { status: 200, body: 'ok', cookies: [], close: false },
  ],
  [
    'HTTP/1.1 200 OK\r\nX-Set-Cookie: no\r\nSet-Cookie2: no\r\nConnectio: close\r\nContent-Length: 7\r\n\r\n{"é":"€"}'.replace(
      'Content-Length: 7',
      `Content-Length: ${Buffer.byteLength('{"é":"€"}')}`,
    ),
    { status: 200, body: '{"é":"€"}', cookies: [], close: false },
  ],
  [
    'HTTP/1.1 500 Internal Server Error\r\ntransfer-encoding: chunked\r\nset-cookie: x=1\r\n\r\n0\r\n\r\n',
    { status: 500, body: '', cookies: ['x=1'], close: false },
  ],
].map(([raw, expect]) => ({ raw: Buffer.from(raw as string, 'utf8'), expect: expect as Msg }));
// Last: a body without length, read until the connection ends.
const untilClose = {
  raw: Buffer.from('HTTP/1.1 200 OK\r\nSet-Cookie: u=1\r\n\r\nbody until close'),
  expect: { status: 200, body: 'body until close', cookies: ['u=1'], close: true },
};
const all = Buffer.concat([...vectors.map((v) => v.raw), untilClose.raw]);
const expected = [...vectors.map((v) => v.expect), untilClose.expect];

function parse(pieces: Buffer[]): Msg[] {
  const out: Msg[] = [];
  const p = new ResponseParser((status, body, cookies, close) =>
    out.push({ status, body, cookies: [...cookies], close }),
  );
  for (const piece of pieces) p.execute(piece);
  p.finish();
  return out;
}

let seed = 42;
const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
let feeds = 0;
assert.deepEqual(parse([all]), expected, 'whole');
feeds++;
assert.deepEqual(parse(Array.from(all, (_, i) => all.subarray(i, i + 1))), expected, 'byte by byte');
feeds++;
for (let i = 0; i <= all.length; i++) {
  assert.deepEqual(parse([all.subarray(0, i), all.subarray(i)]), expected, `split at ${i}`);
  feeds++;
}
for (let n = 0; n < 300; n++) {
  const pieces: Buffer[] = [];
  for (let i = 0; i < all.length;) {
    const len = 1 + Math.floor(random() * 40);
    pieces.push(all.subarray(i, i + len));
    i += len;
  }
  assert.deepEqual(parse(pieces), expected, `random split #${n}`);
  feeds++;
}
const malformed: [string, string][] = [
  ['garbage\r\n\r\n', 'short status line'],
  ['HTTP/1.1 2x0 OK\r\n\r\n', 'bad status code'],
  ['HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n', 'bad content-length'],
  ['HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n', 'two content-lengths'],
  ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nz\r\n', 'bad chunk size'],
  ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n', 'chunk longer than its size'],
  ['HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc', 'cut short (finish)'],
  ['HTTP/1.1 200 OK\r\nContent-Len', 'cut in the head (finish)'],
];
for (const [raw, what] of malformed) assert.throws(() => parse([Buffer.from(raw)]), Error, what);
console.log(
  `parser: ${expected.length} answers × ${feeds} ways of splitting ${all.length} bytes: identical; ${malformed.length} malformed inputs rejected`,
);

// ── 2. a node:http server under load ─────────────────────────────────────────────────────────
type Kind = 'length' | 'chunked' | 'cookies' | 'drip';
const KINDS: Kind[] = ['length', 'chunked', 'cookies', 'drip'];

/** What the server answers to connection `id`'s request number `seq` (both sides compute it). */
function plan(id: number, seq: number): { kind: Kind; status: number; body: string; cookies: string[] } {
  const kind = KINDS[seq % 4]!;
  const pad = kind !== 'drip' && seq % 7 === 0 ? 100_000 : (seq * 37) % (kind === 'drip' ? 200 : 3000);
  const cookies = [`seq=${seq}; Path=/`];
  if (kind === 'cookies') cookies.push(`a=${seq}; HttpOnly`, `b=x${id}; Max-Age=60; SameSite=Lax`);
  return {
    kind,
    status: seq % 13 === 0 ? 418 : 200,
    body: JSON.stringify({ id, seq, pad: 'x'.repeat(pad), u: 'é€' }),
    cookies,
  };
}

/** Makes the rest of this response leave the socket one byte per event-loop turn. */
function drip(res: ServerResponse): void {
  const socket = res.socket!;
  const write = socket.write;
  const queue: { bytes: Buffer; cb: ((err?: Error | null) => void) | undefined }[] = [];
  let pumping = false;
  const pump = () => {
    const head = queue[0];
    if (!head) {
      pumping = false;
      return;
    }
    write.call(socket, head.bytes.subarray(0, 1));
    head.bytes = head.bytes.subarray(1);
    if (head.bytes.length === 0) {
      queue.shift();
      head.cb?.();
    }
    setImmediate(pump);
  };
  socket.write = ((chunk: string | Uint8Array, encoding?: unknown, cb?: unknown) => {
    const callback = (typeof encoding === 'function' ? encoding : cb) as
      ((err?: Error | null) => void) | undefined;
    const bytes =
      typeof chunk === 'string'
        ? Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8')
        : Buffer.from(chunk);
    queue.push({ bytes, cb: callback });
    if (!pumping) {
      pumping = true;
      setImmediate(pump);
    }
    return true;
  }) as typeof socket.write;
  res.once('finish', () => {
    socket.write = write;
  });
}

const server = { served: 0, closes: 0, cookieMismatches: 0, drips: 0, chunked: 0, big: 0 };
const lastSeq = new Map<number, number>();
const http = createServer((req, res) => {
  const k = ++server.served;
  const jar = new Map((req.headers.cookie ?? '').split('; ').map((c) => c.split('=') as [string, string]));
  const id = Number(jar.get('id'));
  const seq = Number(jar.get('seq'));
  if ((lastSeq.get(id) ?? 0) !== seq) server.cookieMismatches++;
  const next = seq + 1;
  lastSeq.set(id, next);
  const p = plan(id, next);
  res.statusCode = p.status;
  res.setHeader('Set-Cookie', p.cookies);
  res.setHeader('Content-Type', 'application/json');
  if (p.body.length > 100_000) server.big++;
  // Node ends a `Connection: close` answer with socket.end(), which would overtake the drip.
  if (k % 10 === 0 && p.kind !== 'drip') {
    server.closes++;
    res.setHeader('Connection', 'close');
  }
  if (p.kind === 'chunked') {
    server.chunked++;
    const a = Math.floor(p.body.length / 3);
    res.write(p.body.slice(0, a));
    setImmediate(() => {
      res.write(p.body.slice(a, 2 * a));
      res.end(p.body.slice(2 * a));
    });
    return;
  }
  res.setHeader('Content-Length', Buffer.byteLength(p.body));
  if (p.kind === 'drip') {
    server.drips++;
    drip(res);
  }
  res.end(p.body);
});
await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
const port = (http.address() as AddressInfo).port;

// Counts the chunk sizes the loader's parsers see.
const chunkSizes = { total: 0, oneByte: 0 };
const execute = ResponseParser.prototype.execute;
ResponseParser.prototype.execute = function (this: ResponseParser, chunk: Buffer) {
  chunkSizes.total++;
  if (chunk.length === 1) chunkSizes.oneByte++;
  execute.call(this, chunk);
};

const CONNECTIONS = 6;
const client = { answers: 0, i418: 0, problems: [] as string[] };
const hooks: ConnectionHooks[] = Array.from({ length: CONNECTIONS }, (_, id) => {
  let seq = 0;
  let header = `id=${id}; seq=0`;
  return {
    cookieHeader: () => header,
    onResponse(status, body, setCookies) {
      client.answers++;
      const p = plan(id, seq + 1);
      const problem = (what: string) =>
        client.problems.length < 5 && client.problems.push(`conn ${id} seq ${seq + 1} (${p.kind}): ${what}`);
      if (status !== p.status) problem(`status ${status}, expected ${p.status}`);
      if (status === 418) client.i418++;
      if (body !== p.body)
        problem(`body of ${body.length} chars, expected ${p.body.length}: ${body.slice(0, 60)}`);
      if (JSON.stringify(setCookies) !== JSON.stringify(p.cookies))
        problem(`cookies ${JSON.stringify(setCookies)}, expected ${JSON.stringify(p.cookies)}`);
      const m = /^seq=(\d+);/.exec(setCookies[0] ?? '');
      seq = m ? Number(m[1]) : seq;
      header = `id=${id}; seq=${seq}`;
    },
  };
});
const result = await httpLoad({ port, path: '/x', duration: 2, connections: hooks });
ResponseParser.prototype.execute = execute;
const counted = result['2xx'] + result.non2xx;
console.log(
  `load: ${counted} answers in ${result.duration.toFixed(3)} s (+${result.late} late), 2xx ${result['2xx']}, non2xx ${result.non2xx}, ` +
    `errors ${result.errors}, timeouts ${result.timeouts}, closes ${result.closes}; server: ${server.served} served, ` +
    `${server.closes} Connection: close, ${server.drips} dripped, ${server.chunked} chunked, ${server.big} of 100 KB, ` +
    `${server.cookieMismatches} cookie mismatches; parser saw ${chunkSizes.total} chunks, ${chunkSizes.oneByte} of 1 byte; ` +
    `p50 ${result.histogram.getValueAtPercentile(50)} µs, p99 ${result.histogram.getValueAtPercentile(99)} µs`,
);
assert.deepEqual(client.problems, [], 'every answer as planned');
assert.equal(server.cookieMismatches, 0, 'every request carried the cookie last set on its connection');
assert.equal(result.errors, 0, 'errors');
assert.equal(result.timeouts, 0, 'timeouts');
assert.equal(client.answers, server.served, 'every request answered and passed to a hook');
assert.equal(counted + result.late, server.served, 'counted + late = served');
assert.equal(result.histogram.totalCount, counted, 'one latency per counted answer');
assert.equal(result.closes, server.closes, 'every Connection: close seen');
assert.ok(
  result.non2xx <= client.i418 && result.non2xx >= client.i418 - result.late,
  'non2xx = the 418s in the window',
);
// Every connection has a request in flight nearly all the time: the end of the window finds some.
assert.ok(
  result.late >= 1 && result.late <= CONNECTIONS,
  'late answers: not counted, at most one per connection',
);
assert.ok(Math.abs(result.duration - 2) < 0.25, `duration ${result.duration}`);
assert.ok(
  server.closes >= 5 && server.drips >= 10 && server.chunked >= 10 && server.big >= 2 && client.i418 >= 2,
  'every kind of answer was exercised',
);
assert.ok(chunkSizes.oneByte >= 1000, 'answers arrived one byte per chunk');
await new Promise<void>((resolve) => http.close(() => resolve()));

// ── 3. trouble ───────────────────────────────────────────────────────────────────────────────
async function netServer(onSocket: (s: Socket) => void): Promise<{ server: Server; port: number }> {
  const s = createNetServer(onSocket);
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return { server: s, port: (s.address() as AddressInfo).port };
}
const quiet = (n: number): ConnectionHooks[] =>
  Array.from({ length: n }, () => ({ cookieHeader: () => '', onResponse: () => {} }));
const sockets = new Set<Socket>();
const track = (s: Socket) => {
  sockets.add(s);
  s.on('close', () => sockets.delete(s));
  s.on('error', () => {});
};

const garbage = await netServer((s) => {
  track(s);
  s.on('data', () => s.write('garbage\r\n\r\n'));
});
const g = await httpLoad({
  port: garbage.port,
  path: '/',
  duration: 0.5,
  connections: quiet(3),
  reconnectDelayMs: 20,
});
assert.ok(g.errors > 3 && g['2xx'] === 0, `garbage: ${JSON.stringify(g)}`);

const slam = await netServer((s) => {
  track(s);
  s.on('data', () => s.destroy());
});
const c = await httpLoad({
  port: slam.port,
  path: '/',
  duration: 0.5,
  connections: quiet(3),
  reconnectDelayMs: 20,
});
assert.ok(
  c.errors > 3 && c.closes >= c.errors && c['2xx'] === 0,
  `closed without answer: ${JSON.stringify(c)}`,
);

// Bytes after a `Connection: close` answer belong to no request: they must not leak into the next socket.
const trailing = await netServer((s) => {
  track(s);
  s.on('data', () => s.end('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nokJUNK'));
});
const j = await httpLoad({
  port: trailing.port,
  path: '/',
  duration: 0.5,
  connections: quiet(3),
  reconnectDelayMs: 20,
});
assert.ok(
  j.errors === 0 && j['2xx'] > 10 && j.closes >= j['2xx'],
  `junk after a close: ${JSON.stringify(j)}`,
);

const mute = await netServer((s) => track(s));
const muteStart = performance.now();
const t = await httpLoad({
  port: mute.port,
  path: '/',
  duration: 1,
  connections: quiet(2),
  timeoutSeconds: 0.2,
  graceSeconds: 0.1,
  reconnectDelayMs: 20,
});
assert.ok(t.timeouts >= 2 && t['2xx'] === 0, `no answer: ${JSON.stringify(t)}`);
// Ends at the window plus the 0.1 s grace even though no answer ever comes.
const muteWall = (performance.now() - muteStart) / 1000;
assert.ok(muteWall < 1.6, `the run ends on time when nothing answers (${muteWall.toFixed(2)} s)`);

const refusedPort = garbage.port;
for (const s of sockets) s.destroy();
await Promise.all(
  [garbage, slam, trailing, mute].map((x) => new Promise((resolve) => x.server.close(resolve))),
);
const r = await httpLoad({
  port: refusedPort,
  path: '/',
  duration: 0.5,
  connections: quiet(2),
  reconnectDelayMs: 20,
});
assert.ok(
  r.errors > 2 && r['2xx'] === 0 && /ECONNREFUSED/.test(r.firstError ?? ''),
  `refused: ${JSON.stringify(r)}`,
);

const ok = createServer((_req, res) => res.end('{}'));
await new Promise<void>((resolve) => ok.listen(0, '127.0.0.1', resolve));
let n = 0;
await assert.rejects(
  httpLoad({
    port: (ok.address() as AddressInfo).port,
    path: '/',
    duration: 5,
    connections: [
      {
        cookieHeader: () => '',
        onResponse: () => {
          if (++n === 100) throw new Error('hook failed');
        },
      },
    ],
  }),
  /hook failed/,
);
ok.closeAllConnections();
await new Promise<void>((resolve) => ok.close(() => resolve()));
const brief = (x: { errors: number; timeouts: number; closes: number; firstError: string | undefined }) =>
  `errors ${x.errors}, timeouts ${x.timeouts}, closes ${x.closes} (${x.firstError ?? '-'})`;
console.log(
  `trouble: garbage ${brief(g)}; closed without answer ${brief(c)}; junk after a close answer ${j['2xx']} 2xx, ${brief(j)}; no answer ${brief(t)}; refused ${brief(r)}; a throwing hook rejects httpLoad after ${n} answers`,
);
console.log('self-test OK');
