/**
 * Header rewriting for the hot path: one pass over Node's `rawHeaders` (request) or undici's raw
 * header buffers (response), dropping hop-by-hop fields (RFC 9110 §7.6.1, plus the ones a
 * Connection header names) and noting what routing and retries need.
 */

const PASS = 0;
const DROP = 1;
const COOKIE = 2;
const CONTENT_LENGTH = 3;
const HOST = 4;
const IDEMPOTENCY_KEY = 5;
const FORWARDED_FOR = 6;
const TRANSFER_ENCODING = 7;
const CONNECTION = 8;

const REQUEST_KIND = new Map<string, number>([
  ['connection', CONNECTION],
  ['keep-alive', DROP],
  ['proxy-connection', DROP],
  ['transfer-encoding', TRANSFER_ENCODING],
  ['te', DROP],
  ['upgrade', DROP],
  // Node already answered `100 Continue`; undici refuses the header.
  ['expect', DROP],
  // Set by the gateway from what it saw, never trusted from the client.
  ['x-forwarded-proto', DROP],
  ['x-forwarded-host', DROP],
  ['cookie', COOKIE],
  ['content-length', CONTENT_LENGTH],
  ['host', HOST],
  ['idempotency-key', IDEMPOTENCY_KEY],
  ['x-forwarded-for', FORWARDED_FOR],
]);

/** What the gateway learnt from a request's headers. */
export interface RequestHead {
  /** Flat `[name, value, …]` for undici, hop-by-hop fields removed, X-Forwarded-* added. */
  headers: string[];
  cookie: string | undefined;
  /** -1 when absent; NaN when not a non-negative integer. */
  contentLength: number;
  chunked: boolean;
  idempotencyKey: boolean;
  host: string | undefined;
  /** The value of the header the `hash` policy keys on, when configured and present. */
  hashValue: string | undefined;
  /** Transfer-Encoding was present but is not plain `chunked` (the gateway refuses such framing). */
  badFraming: boolean;
}

/**
 * Builds the upstream header list of a request and notes cookie, body framing, Host and
 * Idempotency-Key. `clientAddress` is appended to X-Forwarded-For.
 */
export function requestHead(
  raw: string[],
  clientAddress: string | undefined,
  hashHeader: string | undefined,
  proof?: { header: string; value: string },
): RequestHead {
  const headers: string[] = [];
  let cookie: string | undefined;
  let contentLength = -1;
  let chunked = false;
  let badFraming = false;
  let idempotencyKey = false;
  let host: string | undefined;
  let forwardedFor: string | undefined;
  let hashValue: string | undefined;
  let connectionTokens: string | undefined;
  for (let k = 0; k < raw.length; k += 2) {
    const name = raw[k]!;
    const value = raw[k + 1]!;
    const lower = name.toLowerCase();
    if (hashHeader !== undefined && lower === hashHeader && hashValue === undefined) hashValue = value;
    // Only the gateway sets its proof; a client's copy is never passed on.
    if (proof !== undefined && lower === proof.header) continue;
    switch (REQUEST_KIND.get(lower) ?? PASS) {
      case PASS:
        headers.push(name, value);
        break;
      case DROP:
        break;
      case COOKIE:
        cookie = cookie === undefined ? value : `${cookie}; ${value}`;
        headers.push(name, value);
        break;
      case CONTENT_LENGTH:
        contentLength = /^\d{1,15}$/.test(value) ? Number(value) : Number.NaN;
        headers.push(name, value);
        break;
      case HOST:
        host = value;
        headers.push(name, value);
        break;
      case IDEMPOTENCY_KEY:
        idempotencyKey = true;
        headers.push(name, value);
        break;
      case FORWARDED_FOR:
        forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
        break;
      case TRANSFER_ENCODING:
        // Node's parser accepts only a final `chunked` coding; anything else we refuse to relay.
        if (value.trim().toLowerCase() === 'chunked') chunked = true;
        else badFraming = true;
        break;
      case CONNECTION:
        connectionTokens = connectionTokens === undefined ? value : `${connectionTokens},${value}`;
        break;
    }
  }
  const out = connectionTokens === undefined ? headers : dropNamed(headers, connectionTokens);
  if (clientAddress !== undefined) {
    out.push(
      'x-forwarded-for',
      forwardedFor === undefined ? clientAddress : `${forwardedFor}, ${clientAddress}`,
    );
  }
  out.push('x-forwarded-proto', 'http');
  if (proof !== undefined) out.push(proof.header, proof.value);
  if (host !== undefined) out.push('x-forwarded-host', host);
  return { headers: out, cookie, contentLength, chunked, idempotencyKey, host, hashValue, badFraming };
}

/** Removes the fields a Connection header lists (except the ones the gateway itself manages). */
function dropNamed(headers: string[], tokens: string): string[] {
  // The usual case, `Connection: keep-alive`, names nothing to drop.
  const plain = tokens.toLowerCase();
  if (plain === 'keep-alive' || plain === 'close' || plain === 'upgrade') return headers;
  const names = new Set(
    tokens
      .split(',')
      .map((t) => t.trim().toLowerCase())
      .filter((t) => t !== '' && t !== 'close' && t !== 'keep-alive' && t !== 'upgrade'),
  );
  if (names.size === 0) return headers;
  const out: string[] = [];
  for (let k = 0; k < headers.length; k += 2) {
    if (!names.has(headers[k]!.toLowerCase())) out.push(headers[k]!, headers[k + 1]!);
  }
  return out;
}

const RESPONSE_DROP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
]);
/** Lengths of the names above: most response headers skip the lower-casing and the lookup. */
const RESPONSE_DROP_LENGTHS = new Set([...RESPONSE_DROP].map((n) => n.length));

/**
 * The client-facing header list of an upstream response: undici's raw buffers as latin1 strings
 * (bytes kept as they came), hop-by-hop fields removed.
 */
export function responseHeaders(raw: Buffer[]): string[] {
  const out: string[] = [];
  let connectionTokens: string | undefined;
  for (let k = 0; k < raw.length; k += 2) {
    const name = raw[k]!.toString('latin1');
    if (RESPONSE_DROP_LENGTHS.has(name.length)) {
      const lower = name.toLowerCase();
      if (RESPONSE_DROP.has(lower)) {
        if (lower === 'connection') {
          const v = raw[k + 1]!.toString('latin1');
          connectionTokens = connectionTokens === undefined ? v : `${connectionTokens},${v}`;
        }
        continue;
      }
    }
    out.push(name, raw[k + 1]!.toString('latin1'));
  }
  return connectionTokens === undefined ? out : dropNamed(out, connectionTokens);
}
