/**
 * A seeded corpus of hostile bearer tokens: random bytes, oversized tokens, every JOSE header
 * trick, well-signed tokens with bad claims, other issuers' tokens, truncations and bit flips of
 * real tokens. The same seed and inputs give the same corpus.
 */
import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes as cryptoBytes,
  sign,
  type JsonWebKey,
} from 'node:crypto';
import { CompactEncrypt, CompactSign, exportJWK, importJWK, SignJWT, type JWK } from 'jose';

/** One hostile token and the family of attack it belongs to. */
export interface HostileToken {
  kind: string;
  token: string;
}

/** What the corpus is made from: the shop's key (the test owns its seed) and real tokens. */
export interface CorpusInput {
  seed: number;
  /** The shop's signing key (private JWK with `kid`), so tricks can be well signed. */
  shopKey: JWK & { kid: string };
  issuer: string;
  audience: string;
  /** Access tokens the shop really issued (mutated into truncations and bit flips). */
  real: string[];
  /** A user id the tokens claim. */
  userId: string;
  /** A family id the tokens claim (a real one: only the token's own flaws may refuse it). */
  sid: string;
}

/** mulberry32: small, fast, seeded. */
export function prng(seed: number): { next(): number; int(min: number, max: number): number } {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (min, max) => min + Math.floor(next() * (max - min + 1)) };
}

const b64u = (v: string | Uint8Array) => Buffer.from(v).toString('base64url');
const json64 = (v: unknown) => b64u(JSON.stringify(v));
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const VISIBLE = Array.from({ length: 94 }, (_, i) => String.fromCharCode(33 + i)).join('');

/** The decoded bytes of each segment: two tokens that decode alike are the same token. */
const decoded = (t: string) =>
  t.split('.').map((p) => Buffer.from(p, 'base64url').toString('hex') + `:${p.length}`);
const sameToken = (a: string, b: string) => {
  if (!/^[\w-]*(\.[\w-]*)*$/.test(b)) return false;
  const x = decoded(a);
  const y = decoded(b);
  return x.length === y.length && x.every((s, i) => s === y[i]);
};

/**
 * Builds `count` hostile tokens (a fixed mix of kinds, then each drawn from the seeded PRNG).
 *
 * @example
 * ```ts
 * const corpus = await hostileCorpus({ seed: 15, shopKey, issuer, audience, real, userId: 'alice', sid }, 10_000);
 * ```
 */
export async function hostileCorpus(o: CorpusInput, count: number): Promise<HostileToken[]> {
  const rnd = prng(o.seed);
  const pick = <T>(list: readonly T[]): T => list[rnd.int(0, list.length - 1)]!;
  const str = (alphabet: string, n: number) => Array.from({ length: n }, () => pick([...alphabet])).join('');
  const now = Math.floor(Date.now() / 1000);
  const shop = await importJWK(o.shopKey, 'EdDSA');
  const claims = (extra: Record<string, unknown> = {}) => ({
    sub: o.userId,
    sid: o.sid,
    scope: 'cart orders:read orders:write sessions',
    iss: o.issuer,
    aud: o.audience,
    iat: now,
    exp: now + 600,
    ...extra,
  });
  const header = (extra: Record<string, unknown> = {}) => ({
    alg: 'EdDSA',
    kid: o.shopKey.kid,
    typ: 'at+jwt',
    ...extra,
  });
  /** Well signed by the shop's own key over this header and these claims. */
  const signed = async (h: Record<string, unknown>, c: Record<string, unknown>) => {
    const input = `${json64(h)}.${json64(c)}`;
    const jws = await new CompactSign(Buffer.from(JSON.stringify(c)))
      .setProtectedHeader(h as { alg: string })
      .sign(shop)
      .catch(() => null);
    // jose refuses some headers (b64 without crit): sign the bytes directly then.
    if (jws && jws.startsWith(json64(h))) return jws;
    const key = createPrivateKey({ key: o.shopKey as JsonWebKey, format: 'jwk' });
    return `${input}.${b64u(sign(null, Buffer.from(input), key))}`;
  };
  const other = generateKeyPairSync('ed25519');
  const otherJwk = { ...(await exportJWK(other.privateKey)), kid: 'other-issuer-key' };
  const otherKey = await importJWK(otherJwk, 'EdDSA');
  const otherPublic = await exportJWK(other.publicKey);
  const shopPublic: JWK = { kty: o.shopKey.kty, crv: o.shopKey.crv, x: o.shopKey.x, kid: o.shopKey.kid };
  const publicPem = createPublicKey({ key: shopPublic as JsonWebKey, format: 'jwk' }).export({
    type: 'spki',
    format: 'pem',
  });
  const hs = (secret: string | Buffer, h: Record<string, unknown>) => {
    const input = `${json64(h)}.${json64(claims())}`;
    return `${input}.${b64u(createHmac('sha256', secret).update(input).digest())}`;
  };

  // Each maker returns one token; the structured ones are drawn again and again with new details.
  const makers: [string, () => Promise<string> | string][] = [
    ['random base64url', () => str(B64URL, rnd.int(1, 600))],
    ['random visible bytes', () => str(VISIBLE, rnd.int(1, 600))],
    [
      'random three parts',
      () => `${str(B64URL, rnd.int(0, 200))}.${str(B64URL, rnd.int(0, 400))}.${str(B64URL, rnd.int(0, 120))}`,
    ],
    [
      'random binary, base64url',
      () => b64u(Buffer.from(Array.from({ length: rnd.int(1, 900) }, () => rnd.int(0, 255)))),
    ],
    ['16 KB token', () => str(B64URL, 16 * 1024)],
    ['8 KB three parts', () => `${json64(header())}.${str(B64URL, 8 * 1024)}.${str(B64URL, 86)}`],
    [
      'alg none',
      () =>
        `${json64(header({ alg: pick(['none', 'None', 'NONE', 'nOnE']) }))}.${json64(claims())}.${pick(['', str(B64URL, 86)])}`,
    ],
    ['alg none without kid', () => `${json64({ alg: 'none', typ: 'JWT' })}.${json64(claims())}.`],
    [
      'HS256 with the public key (x)',
      () =>
        hs(Buffer.from(String(o.shopKey.x), 'base64url'), header({ alg: pick(['HS256', 'HS384', 'HS512']) })),
    ],
    ['HS256 with the public key (PEM)', () => hs(publicPem, header({ alg: 'HS256' }))],
    ['HS256 with the public JWK', () => hs(JSON.stringify(shopPublic), header({ alg: 'HS256' }))],
    [
      'RS256 / ES256 claimed over an EdDSA signature',
      async () => {
        const t = await signed(header(), claims());
        const [, p, s] = t.split('.');
        return `${json64(header({ alg: pick(['RS256', 'ES256', 'PS256', 'ES512', 'Ed25519']) }))}.${p}.${s}`;
      },
    ],
    [
      'unknown kid',
      async () =>
        new SignJWT(claims()).setProtectedHeader(header({ kid: str(B64URL, rnd.int(1, 40)) })).sign(otherKey),
    ],
    [
      'kid injection',
      async () =>
        signed(
          header({
            kid: pick([
              '../../../../dev/null',
              "' OR '1'='1",
              '${jndi:ldap://x}',
              '\u0000',
              'shop:family:*',
              '*',
              `${o.shopKey.kid}\u0000x`,
              'a'.repeat(4096),
            ]),
          }),
          claims(),
        ),
    ],
    [
      'kid of the wrong type',
      async () =>
        signed(
          header({ kid: pick<unknown>([1, null, true, [o.shopKey.kid], { kid: o.shopKey.kid }]) }),
          claims(),
        ),
    ],
    [
      'crit with an unknown extension',
      async () =>
        signed(
          header({
            crit: [pick(['exp', 'x-custom', 'http://example.com/ext'])],
            'x-custom': 1,
            exp: now + 600,
          }),
          claims(),
        ),
    ],
    [
      'jku / x5u to an attacker key',
      async () =>
        new SignJWT(claims())
          .setProtectedHeader(header({ [pick(['jku', 'x5u'])]: 'https://attacker.example/keys.json' }))
          .sign(otherKey),
    ],
    [
      'embedded jwk of the attacker',
      async () => new SignJWT(claims()).setProtectedHeader(header({ jwk: otherPublic })).sign(otherKey),
    ],
    [
      'b64=false',
      async () => {
        const h = header({ b64: false, crit: ['b64'] });
        const payload = JSON.stringify(claims());
        const key = createPrivateKey({ key: o.shopKey as JsonWebKey, format: 'jwk' });
        const input = Buffer.concat([Buffer.from(`${json64(h)}.`), Buffer.from(payload)]);
        return `${json64(h)}..${b64u(sign(null, input, key))}`;
      },
    ],
    [
      'nested JWE',
      async () => {
        const inner = await signed(header(), claims());
        return new CompactEncrypt(Buffer.from(inner))
          .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', cty: 'JWT', kid: o.shopKey.kid })
          .encrypt(cryptoBytes(32));
      },
    ],
    [
      'JWE-shaped five parts',
      () =>
        `${json64({ alg: 'RSA-OAEP', enc: 'A256GCM', kid: o.shopKey.kid })}.${str(B64URL, 40)}.${str(B64URL, 16)}.${str(B64URL, 60)}.${str(B64URL, 22)}`,
    ],
    [
      'wrong typ',
      async () =>
        signed(
          header({ typ: pick(['JWT+refresh', 'secevent+jwt', 'dpop+jwt', 'JWE', 'id_token']) }),
          claims(),
        ),
    ],
    [
      "another issuer's valid token",
      async () =>
        new SignJWT(claims({ iss: 'https://other.example' }))
          .setProtectedHeader({ alg: 'EdDSA', kid: otherJwk.kid, typ: 'at+jwt' })
          .sign(otherKey),
    ],
    [
      'our key, another issuer',
      async () =>
        signed(
          header(),
          claims({ iss: pick(['https://other.example', `${o.issuer}/`, o.issuer.toUpperCase(), '']) }),
        ),
    ],
    [
      'our key, another audience',
      async () => signed(header(), claims({ aud: pick(['other-api', [], ['other-api'], `${o.audience} `]) })),
    ],
    ['expired', async () => signed(header(), claims({ iat: now - 7200, exp: now - rnd.int(120, 7200) }))],
    ['nbf in the future', async () => signed(header(), claims({ nbf: now + rnd.int(120, 86_400) }))],
    [
      'claims of the wrong type',
      async () =>
        signed(
          header(),
          claims(
            pick<Record<string, unknown>>([
              { exp: String(now + 600) },
              { sub: 1 },
              { sub: null },
              { scope: ['cart'] },
              { sid: {} },
              { exp: Number.MAX_VALUE },
            ]),
          ),
        ),
    ],
    ['no exp', async () => signed(header(), { ...claims(), exp: undefined })],
    [
      'payload not JSON',
      async () => {
        const t = await signed(header(), claims());
        const [h, , s] = t.split('.');
        return `${h}.${b64u(pick(['[]', 'null', '"x"', '{', '\u0000']))}.${s}`;
      },
    ],
    ['extra segments', async () => `${await signed(header(), claims())}${pick(['.', '..', '.e30', '.x'])}`],
    [
      'truncated real token',
      () => {
        const t = pick(o.real);
        return t.slice(0, rnd.int(0, t.length - 1));
      },
    ],
    [
      'bit flips of a real token',
      () => {
        const t = pick(o.real);
        for (;;) {
          const chars = [...t];
          for (let n = rnd.int(1, 3); n > 0; n--) {
            const i = rnd.int(0, chars.length - 1);
            const c = chars[i]!.charCodeAt(0) ^ (1 << rnd.int(0, 6));
            if (c > 32 && c < 127) chars[i] = String.fromCharCode(c);
          }
          const out = chars.join('');
          if (!sameToken(t, out)) return out;
        }
      },
    ],
    [
      'segments swapped',
      () => {
        const [h, p, s] = pick(o.real).split('.');
        return pick([`${p}.${h}.${s}`, `${h}.${p}.${h}`, `${h}.${s}.${p}`, `${h}.${p}`]);
      },
    ],
  ];
  const out: HostileToken[] = [];
  for (let i = 0; i < count; i++) {
    // Every kind at least once, then drawn at random.
    const [kind, make] = i < makers.length ? makers[i]! : pick(makers);
    out.push({ kind, token: await make() });
  }
  return out;
}
