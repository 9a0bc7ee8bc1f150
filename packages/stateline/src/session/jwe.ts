import { createCipheriv, createDecipheriv, randomBytes, type KeyObject, createSecretKey } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { OpenedTokens } from './opened-tokens.js';

/** Options of {@link CompactJwe}. */
export interface JweOptions {
  /**
   * Plaintexts of at least this many bytes are deflated before encryption (`zip: "DEF"`, RFC 7516
   * §4.1.3) when `encrypt` is asked to compress; `false`: never. Default `false`.
   */
  compressAbove?: number | false;
  /** A `zip` token that inflates past this many bytes is refused (default 256 KiB). */
  maxInflatedBytes?: number;
  /** Bytes the opened-token cache may hold (default 8 MiB). */
  cacheBytes?: number;
}

interface Header {
  kid: string;
  zip: boolean;
}

/**
 * JWE compact serialization (RFC 7516) for exactly one algorithm pair: `alg: dir` (the key is the
 * content key) and `enc: A256GCM`, optionally with `zip: "DEF"` (raw DEFLATE of the plaintext
 * before encryption). Done synchronously on node:crypto: the same tokens jose makes and reads (a
 * test checks both directions; jose 6 no longer does `zip`), at a tenth of the cost of going
 * through WebCrypto, which is what keeps the `token` strategy cheap per request.
 *
 * @example
 * ```ts
 * const jwe = new CompactJwe(ring.encryptionKeys, { compressAbove: 1024 });
 * const token = jwe.encrypt(JSON.stringify(record), true);
 * jwe.decrypt(token); // the JSON again, or null for anything this ring did not seal
 * ```
 */
export class CompactJwe {
  private readonly keys = new Map<string, KeyObject>();
  /** base64url protected header → kid and zip, for the headers this ring writes. */
  private readonly headers = new Map<string, Header>();
  private readonly current: { header: string; aad: Buffer; zipHeader: string; zipAad: Buffer };
  private readonly compressAbove: number | false;
  private readonly maxInflated: number;

  constructor(ring: readonly { kid: string; key: Uint8Array }[], options: JweOptions = {}) {
    for (const { kid, key } of ring) {
      this.keys.set(kid, createSecretKey(key));
      this.headers.set(encodeHeader(kid, false), { kid, zip: false });
      this.headers.set(encodeHeader(kid, true), { kid, zip: true });
    }
    const first = ring[0]!;
    const header = encodeHeader(first.kid, false);
    const zipHeader = encodeHeader(first.kid, true);
    this.current = {
      header,
      aad: Buffer.from(header, 'ascii'),
      zipHeader,
      zipAad: Buffer.from(zipHeader, 'ascii'),
    };
    this.key = this.keys.get(first.kid)!;
    this.compressAbove = options.compressAbove ?? false;
    this.maxInflated = options.maxInflatedBytes ?? 256 * 1024;
    this.opened = new OpenedTokens(options.cacheBytes ?? 8 * 1024 * 1024);
  }

  private readonly key: KeyObject;

  /**
   * Token → plaintext for tokens this ring wrote or opened lately, so the token a client sends
   * back is not decrypted (nor inflated) again: a cipher's set-up is most of the cost. Keyed by
   * the whole token: only a token that authenticated under this ring's keys (fixed for its
   * lifetime) can be found here. Bounded by bytes, oldest out first.
   */
  private readonly opened: OpenedTokens;

  /** Entries and bytes of the opened-token cache. */
  get cached(): { entries: number; bytes: number } {
    return { entries: this.opened.size, bytes: this.opened.bytes };
  }

  /**
   * Seals `plaintext`; with `compress`, deflated first when it is at least `compressAbove` bytes
   * and deflating makes it smaller.
   */
  encrypt(plaintext: string, compress = false): string {
    const iv = nextIv();
    let data: Buffer | string = plaintext;
    let zip = false;
    if (compress && this.compressAbove !== false && plaintext.length >= this.compressAbove) {
      const raw = Buffer.from(plaintext, 'utf8');
      const deflated = deflateRawSync(raw);
      if (deflated.length < raw.length) {
        data = deflated;
        zip = true;
      }
    }
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(zip ? this.current.zipAad : this.current.aad);
    // GCM is a stream mode: final() adds no bytes, so update()'s output is the whole ciphertext.
    const ct = typeof data === 'string' ? cipher.update(data, 'utf8') : cipher.update(data);
    cipher.final();
    const token = `${zip ? this.current.zipHeader : this.current.header}..${iv.toString('base64url')}.${ct.toString('base64url')}.${cipher.getAuthTag().toString('base64url')}`;
    this.opened.remember(token, plaintext);
    return token;
  }

  /** The plaintext, or null for anything that is not a token of this ring (never throws). */
  decrypt(token: string): string | null {
    const known = this.opened.get(token);
    if (known !== undefined) return known;
    const plaintext = this.open(token);
    if (plaintext !== null) this.opened.remember(token, plaintext);
    return plaintext;
  }

  private open(token: string): string | null {
    const parts = token.split('.');
    if (parts.length !== 5 || parts[1] !== '') return null;
    const [header, , iv64, ct64, tag64] = parts as [string, string, string, string, string];
    // Buffer's base64url decoder skips characters outside the alphabet: refuse them first.
    if (!B64URL.test(iv64) || !B64URL.test(ct64) || !B64URL.test(tag64) || !B64URL.test(header)) return null;
    const h = this.headers.get(header) ?? headerOf(header);
    const key = h === undefined ? undefined : this.keys.get(h.kid);
    if (!key) return null;
    const iv = Buffer.from(iv64, 'base64url');
    const tag = Buffer.from(tag64, 'base64url');
    if (iv.length !== 12 || tag.length !== 16) return null;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
      decipher.setAAD(Buffer.from(header, 'ascii'));
      decipher.setAuthTag(tag);
      const data = Buffer.concat([decipher.update(Buffer.from(ct64, 'base64url')), decipher.final()]);
      // Inflated only once authenticated, and never past maxInflated (a bomb throws: refused).
      return (h!.zip ? inflateRawSync(data, { maxOutputLength: this.maxInflated }) : data).toString('utf8');
    } catch {
      return null;
    }
  }
}

const B64URL = /^[A-Za-z0-9_-]+$/;

// IVs come from a pool filled by the CSPRNG 4 KiB at a time (one syscall per 341 tokens instead of
// one per token); each 12-byte slice is handed out once and never reused.
const IV_POOL = 4092;
let pool = Buffer.alloc(0);
let at = IV_POOL;

function nextIv(): Buffer {
  if (at + 12 > pool.length) {
    pool = randomBytes(IV_POOL);
    at = 0;
  }
  const iv = pool.subarray(at, at + 12);
  at += 12;
  return iv;
}

function encodeHeader(kid: string, zip: boolean): string {
  const h = zip ? { alg: 'dir', enc: 'A256GCM', zip: 'DEF', kid } : { alg: 'dir', enc: 'A256GCM', kid };
  return Buffer.from(JSON.stringify(h)).toString('base64url');
}

/** The kid (and zip) of a header written by another JWE library, when it asks for exactly dir + A256GCM. */
function headerOf(header: string): Header | undefined {
  if (header.length > 512) return undefined;
  try {
    const h = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as Record<string, unknown>;
    const known = new Set(['alg', 'enc', 'kid', 'typ', 'cty', 'zip']);
    if (h.alg !== 'dir' || h.enc !== 'A256GCM' || typeof h.kid !== 'string') return undefined;
    if (h.zip !== undefined && h.zip !== 'DEF') return undefined;
    // `crit` or anything else we do not implement: refuse rather than misread.
    return Object.keys(h).every((k) => known.has(k)) ? { kid: h.kid, zip: h.zip === 'DEF' } : undefined;
  } catch {
    return undefined;
  }
}
