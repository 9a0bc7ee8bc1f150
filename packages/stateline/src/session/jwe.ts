import { createCipheriv, createDecipheriv, randomBytes, type KeyObject, createSecretKey } from 'node:crypto';

/**
 * JWE compact serialization (RFC 7516) for exactly one algorithm pair: `alg: dir` (the key is the
 * content key) and `enc: A256GCM`. Done synchronously on node:crypto: the same tokens jose makes
 * and reads (a test checks both directions), at a tenth of the cost of going through WebCrypto,
 * which is what keeps the `token` strategy cheap per request.
 */
export class CompactJwe {
  private readonly keys = new Map<string, KeyObject>();
  /** base64url protected header → kid, for the headers this ring writes. */
  private readonly headers = new Map<string, string>();
  private readonly current: { kid: string; header: string; aad: Buffer };

  constructor(ring: readonly { kid: string; key: Uint8Array }[]) {
    for (const { kid, key } of ring) {
      this.keys.set(kid, createSecretKey(key));
      this.headers.set(encodeHeader(kid), kid);
    }
    const first = ring[0]!;
    const header = encodeHeader(first.kid);
    this.current = { kid: first.kid, header, aad: Buffer.from(header, 'ascii') };
    this.key = this.keys.get(first.kid)!;
  }

  private readonly key: KeyObject;

  /**
   * Token → plaintext for tokens this ring wrote or opened lately, so the token a client sends
   * back is not decrypted again (a cipher's set-up is most of the cost). Keyed by the whole
   * token: only a token that authenticated under this ring's keys (fixed for its lifetime) can
   * be found here. Bounded in count and token size, oldest out first.
   */
  private readonly opened = new Map<string, string>();

  private remember(token: string, plaintext: string): void {
    if (token.length > OPENED_MAX_TOKEN) return;
    if (this.opened.size >= OPENED_MAX) this.opened.delete(this.opened.keys().next().value!);
    this.opened.set(token, plaintext);
  }

  encrypt(plaintext: string): string {
    const iv = nextIv();
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(this.current.aad);
    // GCM is a stream mode: final() adds no bytes, so update()'s output is the whole ciphertext.
    const ct = cipher.update(plaintext, 'utf8');
    cipher.final();
    const token = `${this.current.header}..${iv.toString('base64url')}.${ct.toString('base64url')}.${cipher.getAuthTag().toString('base64url')}`;
    this.remember(token, plaintext);
    return token;
  }

  /** The plaintext, or null for anything that is not a token of this ring (never throws). */
  decrypt(token: string): string | null {
    const known = this.opened.get(token);
    if (known !== undefined) return known;
    const plaintext = this.open(token);
    if (plaintext !== null) this.remember(token, plaintext);
    return plaintext;
  }

  private open(token: string): string | null {
    const parts = token.split('.');
    if (parts.length !== 5 || parts[1] !== '') return null;
    const [header, , iv64, ct64, tag64] = parts as [string, string, string, string, string];
    // Buffer's base64url decoder skips characters outside the alphabet: refuse them first.
    if (!B64URL.test(iv64) || !B64URL.test(ct64) || !B64URL.test(tag64) || !B64URL.test(header)) return null;
    const kid = this.headers.get(header) ?? kidOf(header);
    const key = kid === undefined ? undefined : this.keys.get(kid);
    if (!key) return null;
    const iv = Buffer.from(iv64, 'base64url');
    const tag = Buffer.from(tag64, 'base64url');
    if (iv.length !== 12 || tag.length !== 16) return null;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
      decipher.setAAD(Buffer.from(header, 'ascii'));
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(Buffer.from(ct64, 'base64url')), decipher.final()]).toString(
        'utf8',
      );
    } catch {
      return null;
    }
  }
}

const B64URL = /^[A-Za-z0-9_-]+$/;

/** At most this many opened tokens are kept, each at most this long (~3 MB in all at worst). */
const OPENED_MAX = 2048;
const OPENED_MAX_TOKEN = 1024;

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

function encodeHeader(kid: string): string {
  return Buffer.from(JSON.stringify({ alg: 'dir', enc: 'A256GCM', kid })).toString('base64url');
}

/** The kid of a header written by another JWE library, when it asks for exactly dir + A256GCM. */
function kidOf(header: string): string | undefined {
  if (header.length > 512) return undefined;
  try {
    const h = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as Record<string, unknown>;
    const known = new Set(['alg', 'enc', 'kid', 'typ', 'cty']);
    if (h.alg !== 'dir' || h.enc !== 'A256GCM' || typeof h.kid !== 'string') return undefined;
    // `zip`, `crit` or anything else we do not implement: refuse rather than misread.
    return Object.keys(h).every((k) => known.has(k)) ? h.kid : undefined;
  } catch {
    return undefined;
  }
}
