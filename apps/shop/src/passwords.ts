import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/** How a password is kept: scrypt parameters, a per-user random salt and the derived key. */
export interface PasswordHash {
  alg: 'scrypt';
  N: number;
  r: number;
  p: number;
  salt: string;
  hash: string;
}

/** The cost new hashes get (~35 ms of one core; the parameters are stored with each hash). */
const COST = { N: 16_384, r: 8, p: 1 } as const;
const KEY_BYTES = 32;

function derive(password: string, salt: Buffer, o: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, KEY_BYTES, { ...o, maxmem: 64 * 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

/**
 * Hashes a password with scrypt and a fresh 16-byte salt.
 *
 * @example
 * ```ts
 * const stored = await hashPassword('stateline'); // { alg: 'scrypt', N: 16384, r: 8, p: 1, salt, hash }
 * ```
 */
export async function hashPassword(password: string): Promise<PasswordHash> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, COST);
  return { alg: 'scrypt', ...COST, salt: salt.toString('base64'), hash: key.toString('base64') };
}

/**
 * True when `password` matches; compares in constant time. With no stored hash it still spends
 * one derivation, so an unknown username takes as long as a wrong password.
 *
 * @example
 * ```ts
 * if (await verifyPassword(user?.password, input)) await session.login(user.id);
 * ```
 */
export async function verifyPassword(stored: PasswordHash | undefined, password: string): Promise<boolean> {
  if (!stored || stored.alg !== 'scrypt') {
    await derive(password, randomBytes(16), COST);
    return false;
  }
  const expected = Buffer.from(stored.hash, 'base64');
  const key = await derive(password, Buffer.from(stored.salt, 'base64'), {
    N: stored.N,
    r: stored.r,
    p: stored.p,
  });
  return key.length === expected.length && timingSafeEqual(key, expected);
}
