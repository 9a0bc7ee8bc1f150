import { createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { StatelineError } from '../errors.js';

const MIN_KEY_LENGTH = 32;

/** One configured secret and what is derived from it. */
interface RingKey {
  kid: string;
  mac: Buffer;
  enc: Uint8Array;
}

/**
 * The secrets, newest first: the newest signs and encrypts, every one verifies and decrypts, so
 * keys rotate by prepending a new one and dropping the oldest later.
 */
export class KeyRing {
  private readonly keys: RingKey[];

  constructor(secrets: readonly (string | undefined)[]) {
    if (!Array.isArray(secrets) || secrets.length === 0) {
      throw new StatelineError(
        'SL_ERR_INVALID_OPTION',
        'keys must be a non-empty array of secrets, newest first',
      );
    }
    this.keys = secrets.map((secret, i) => {
      if (typeof secret !== 'string' || secret.length < MIN_KEY_LENGTH) {
        throw new StatelineError(
          'SL_ERR_INVALID_OPTION',
          `keys[${i}] must be a string of at least ${MIN_KEY_LENGTH} characters (got ${typeof secret === 'string' ? `${secret.length} characters` : String(secret)})`,
        );
      }
      const ikm = Buffer.from(secret, 'utf8');
      const derive = (info: string) => Buffer.from(hkdfSync('sha256', ikm, Buffer.alloc(0), info, 32));
      const enc = derive('stateline token encryption');
      return {
        kid: createHash('sha256').update(enc).digest('base64url').slice(0, 8),
        mac: derive('stateline cookie signature'),
        enc: new Uint8Array(enc),
      };
    });
  }

  /** base64url HMAC-SHA256 of `data` with the newest key. */
  sign(data: string): string {
    return createHmac('sha256', this.keys[0]!.mac).update(data).digest('base64url');
  }

  /** True when `mac` is the signature of `data` under any key of the ring. */
  verify(data: string, mac: string): boolean {
    const given = Buffer.from(mac, 'base64url');
    if (given.length !== 32) return false;
    for (const k of this.keys) {
      if (timingSafeEqual(createHmac('sha256', k.mac).update(data).digest(), given)) return true;
    }
    return false;
  }

  /** The key that encrypts new tokens. */
  get encryptionKey(): { kid: string; key: Uint8Array } {
    const k = this.keys[0]!;
    return { kid: k.kid, key: k.enc };
  }

  /** Every encryption key with its `kid`, newest first. */
  get encryptionKeys(): { kid: string; key: Uint8Array }[] {
    return this.keys.map((k) => ({ kid: k.kid, key: k.enc }));
  }
}

/** `bytes` random bytes from the CSPRNG, base64url. */
export function randomId(bytes = 16): string {
  return randomBytes(bytes).toString('base64url');
}

/** A short verifier for a secret, so a leaked Store never holds usable session ids. */
export function verifierOf(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url').slice(0, 22);
}
