import { isIP } from 'node:net';

/**
 * Which peers may speak for the client through `X-Forwarded-For`/`-Proto`/`-Host`: addresses,
 * CIDR ranges (`10.0.0.0/8`, `fd00::/8`), the word `loopback`, or a function of the peer address.
 * Anything else is a client, and what it says about forwarding is ignored.
 */
export type TrustedProxies = readonly string[] | ((address: string) => boolean);

/** What a request says about where it came from, after the trusted proxies had their say. */
export interface Forwarded {
  /** The client's address: the last `X-Forwarded-For` entry when the peer is trusted, else the peer. */
  address: string;
  /** `https` or `http`: the trusted proxy's `X-Forwarded-Proto`, else the connection's own. */
  proto: string;
  /** The trusted proxy's `X-Forwarded-Host`, else `Host`; undefined when neither is there. */
  host: string | undefined;
}

/** The parts of a request {@link forwarded} reads. */
export interface ForwardedInput {
  peer: string | undefined;
  encrypted: boolean;
  header(name: string): string | undefined;
}

type Range = { v4: boolean; bytes: Uint8Array; bits: number };

/** Strips `::ffff:` from IPv4-mapped IPv6 so one rule covers both spellings. */
function plain(address: string): string {
  return address.toLowerCase().startsWith('::ffff:') && isIP(address.slice(7)) === 4
    ? address.slice(7)
    : address;
}

function bytesOf(address: string): Uint8Array | null {
  const a = plain(address);
  const kind = isIP(a);
  if (kind === 4) return Uint8Array.from(a.split('.').map(Number));
  if (kind !== 6) return null;
  const [head, tail] = a.split('::') as [string, string | undefined];
  const part = (s: string | undefined) => (s ? s.split(':') : []);
  let groups = [...part(head), ...part(tail)];
  const last = groups[groups.length - 1];
  if (last?.includes('.')) {
    const v4 = last.split('.').map(Number);
    groups = [
      ...groups.slice(0, -1),
      ((v4[0]! << 8) | v4[1]!).toString(16),
      ((v4[2]! << 8) | v4[3]!).toString(16),
    ];
  }
  const fill = tail === undefined ? [] : Array<string>(8 - groups.length).fill('0');
  const all = tail === undefined ? groups : [...part(head), ...fill, ...groups.slice(part(head).length)];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    const n = parseInt(g, 16);
    out[i * 2] = n >> 8;
    out[i * 2 + 1] = n & 255;
  });
  return out;
}

function parseRange(entry: string): Range[] {
  const e = entry.trim();
  if (e === 'loopback') return [...parseRange('127.0.0.0/8'), ...parseRange('::1/128')];
  const [addr, bitsText] = e.split('/') as [string, string | undefined];
  const bytes = bytesOf(addr);
  const bits = bitsText === undefined ? (bytes?.length ?? 0) * 8 : Number(bitsText);
  if (!bytes || !Number.isInteger(bits) || bits < 0 || bits > bytes.length * 8)
    throw new TypeError(`trustedProxies: "${entry}" is not an address, a CIDR range or "loopback"`);
  return [{ v4: bytes.length === 4, bytes, bits }];
}

function inRange(r: Range, bytes: Uint8Array): boolean {
  if ((bytes.length === 4) !== r.v4) return false;
  for (let bit = 0; bit < r.bits; bit += 8) {
    const mask = r.bits - bit >= 8 ? 255 : (255 << (8 - (r.bits - bit))) & 255;
    if ((bytes[bit / 8]! & mask) !== (r.bytes[bit / 8]! & mask)) return false;
  }
  return true;
}

/**
 * Compiles a {@link TrustedProxies} list into a test of a peer address. Throws a `TypeError`
 * naming an entry it cannot read. No list trusts nobody.
 *
 * @example
 * ```ts
 * const trusted = proxyTrust(['loopback', '10.0.0.0/8']);
 * trusted('::ffff:127.0.0.1'); // true
 * ```
 */
export function proxyTrust(list: TrustedProxies | undefined): (address: string | undefined) => boolean {
  if (typeof list === 'function') return (a) => a !== undefined && list(plain(a));
  const ranges = (list ?? []).flatMap(parseRange);
  if (ranges.length === 0) return () => false;
  return (a) => {
    const bytes = a === undefined ? null : bytesOf(a);
    return bytes !== null && ranges.some((r) => inRange(r, bytes));
  };
}

/** The last value of a comma-separated header: what the nearest proxy added. */
function lastValue(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const last = v.slice(v.lastIndexOf(',') + 1).trim();
  return last === '' ? undefined : last;
}

/**
 * The client's address, scheme and host as a trusted proxy reports them: from a trusted peer the
 * last `X-Forwarded-For` entry (the one that proxy appended; earlier ones are whatever the client
 * sent) is the client. From a peer that is not a trusted proxy, every forwarding header is ignored.
 *
 * @example
 * ```ts
 * const trusted = proxyTrust(['loopback']);
 * forwarded({ peer: '127.0.0.1', encrypted: false, header: (n) => req.headers[n] as string }, trusted);
 * // { address: '203.0.113.9', proto: 'http', host: 'shop.example' }
 * ```
 */
export function forwarded(req: ForwardedInput, trusted: (address: string | undefined) => boolean): Forwarded {
  const peer = req.peer ?? 'unknown';
  const own: Forwarded = { address: peer, proto: req.encrypted ? 'https' : 'http', host: req.header('host') };
  if (!trusted(req.peer)) return own;
  // One hop: the entry the trusted peer appended. A client on a proxy's own address stays a client.
  const address = lastValue(req.header('x-forwarded-for')) ?? peer;
  const proto = lastValue(req.header('x-forwarded-proto'))?.toLowerCase();
  return {
    address,
    proto: proto === 'https' || proto === 'http' ? proto : own.proto,
    host: lastValue(req.header('x-forwarded-host')) ?? own.host,
  };
}
