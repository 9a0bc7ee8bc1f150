/**
 * Must show 1: every kind of bad access token is refused with 401 (never a 500, never accepted),
 * through `tokens.verify` and through the `bearer` middleware over HTTP; then 10,000 tokens
 * mutated by a seeded PRNG get the same answer.
 */
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import * as jose from 'jose';
import { StatelineError } from '../../src/errors.js';
import { generateTokenKey } from '../../src/tokens/index.js';
import type { TokenKey } from '../../src/tokens/types.js';
import { AUDIENCE, b64, Clock, decode, expressApi, hs256, ISSUER, prng, rig, type Rig } from './fixture.js';

const HOUR = 3_600_000;

describe('access tokens: refusals (401, never 500)', () => {
  let key: TokenKey & { privateJwk: jose.JWK };
  let home: Rig;
  let api: { url: string; close(): Promise<void> };
  let good: string;
  const others: Rig[] = [];
  const bad = new Map<string, string>();

  /** Tokens for alice minted with `key` by a differently configured instance. */
  async function mint(o: Parameters<typeof rig>[0]): Promise<string> {
    const r = await rig(o);
    others.push(r);
    return (await r.tokens.issue('alice', { scopes: ['orders:read'] })).accessToken;
  }

  before(async () => {
    key = (await generateTokenKey('EdDSA')) as typeof key;
    const now = new Clock(Date.now());
    home = await rig({ clock: now, keys: [key] });
    api = await expressApi(home.tokens);
    good = (await home.tokens.issue('alice', { scopes: ['orders:read'] })).accessToken;
    const { header, payload } = decode(good);
    const [h, p, s] = good.split('.') as [string, string, string];
    const pub = { kty: 'OKP', crv: 'Ed25519', x: key.privateJwk.x };
    const pem = createPublicKey({ key: pub, format: 'jwk' }).export({ type: 'spki', format: 'pem' });

    bad.set('expired', await mint({ clock: new Clock(now.t - HOUR), keys: [key] }));
    bad.set('not yet valid', await mint({ clock: new Clock(now.t + HOUR), keys: [key] }));
    bad.set('wrong aud', await mint({ keys: [key], tokens: { audience: 'billing-api' } }));
    bad.set('wrong iss', await mint({ keys: [key], tokens: { issuer: 'https://evil.test' } }));
    bad.set('unknown kid', await mint({ keys: [await generateTokenKey('EdDSA')] }));
    bad.set('alg none', `${b64({ ...header, alg: 'none' })}.${p}.`);
    bad.set('alg none, signature kept', `${b64({ ...header, alg: 'none' })}.${p}.${s}`);
    bad.set('alg NONE', `${b64({ ...header, alg: 'NONE' })}.${p}.`);
    bad.set(
      'HS256 with the public JWK as secret',
      hs256({ ...header, alg: 'HS256' }, payload, JSON.stringify(pub)),
    );
    bad.set('HS256 with the public key PEM as secret', hs256({ ...header, alg: 'HS256' }, payload, pem));
    bad.set(
      'HS256 with the raw public key as secret',
      hs256({ ...header, alg: 'HS256' }, payload, Buffer.from(key.privateJwk.x!, 'base64url')),
    );
    const es = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    bad.set(
      'ES256 under the EdDSA key’s kid',
      await new jose.SignJWT(payload)
        .setProtectedHeader({ ...header, alg: 'ES256' } as jose.JWTHeaderParameters)
        .sign(es),
    );
    bad.set(
      'typ JWT (not an access token)',
      await new jose.SignJWT(payload)
        .setProtectedHeader({ ...header, typ: 'JWT' } as jose.JWTHeaderParameters)
        .sign(await jose.importJWK(key.privateJwk, 'EdDSA')),
    );
    bad.set('tampered payload (sub)', `${h}.${b64({ ...payload, sub: 'mallory' })}.${s}`);
    bad.set('tampered payload (scope)', `${h}.${b64({ ...payload, scope: 'orders:read admin' })}.${s}`);
    bad.set('tampered signature', `${h}.${p}.${s.slice(0, 10)}${s[10] === 'A' ? 'B' : 'A'}${s.slice(11)}`);
    bad.set('signature of another token', `${h}.${p}.${bad.get('wrong aud')!.split('.')[2]}`);
    bad.set('truncated signature', good.slice(0, -1));
    bad.set('truncated to header and payload', `${h}.${p}`);
    bad.set('truncated to header', h);
    bad.set('truncated mid-payload', good.slice(0, h.length + 1 + Math.floor(p.length / 2)));
    bad.set('padded signature', `${good}==`);
    bad.set('not base64', 'not a token at all');
  });

  after(async () => {
    await api?.close();
    await Promise.all([home, ...others].map((r) => r?.close()));
  });

  it('a well-formed token of this issuer is accepted (the control)', async () => {
    assert.deepEqual(await home.tokens.verify(good), {
      userId: 'alice',
      scopes: ['orders:read'],
      sid: decode(good).payload.sid,
    });
    const res = await fetch(api.url, { headers: { authorization: `Bearer ${good}` } });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { userId: string }).userId, 'alice');
  });

  it('each listed bad token: verify rejects with SL_ERR_TOKEN_INVALID, the middleware answers 401 invalid_token', async () => {
    assert.equal(bad.size, 23);
    for (const [name, token] of bad) {
      await assert.rejects(
        home.tokens.verify(token),
        (err: unknown) => err instanceof StatelineError && err.code === 'SL_ERR_TOKEN_INVALID',
        name,
      );
      const res = await fetch(api.url, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 401, name);
      assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="api", error="invalid_token"', name);
      assert.equal(res.headers.get('content-type'), 'application/problem+json', name);
      assert.equal(((await res.json()) as { code: string }).code, 'SL_ERR_TOKEN_INVALID', name);
    }
  });

  it('a token accepted before is refused once it expires (the verified cache checks exp)', async () => {
    const clock = new Clock();
    const r = await rig({ clock, keys: [key] });
    others.push(r);
    const t = (await r.tokens.issue('alice')).accessToken;
    await r.tokens.verify(t);
    clock.advance(10 * 60_000 + 5_000 - 1);
    await r.tokens.verify(t);
    assert.equal(r.tokens.metrics.cacheHits, 1);
    clock.advance(1);
    await assert.rejects(r.tokens.verify(t), { code: 'SL_ERR_TOKEN_INVALID', message: /expired/ });
  });

  it('property: 10,000 tokens mutated from valid ones (seeded) are all refused with 401, none accepted, no 5xx', async () => {
    const rnd = prng(0x5eed15);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const printable = () => String.fromCharCode(0x21 + Math.floor(rnd() * 94));
    const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(rnd() * 256)));
    const seeds = [good, (await home.tokens.issue('bob', { scopes: ['a', 'b'] })).accessToken];
    const kid = decode(good).header.kid;
    const headerTricks: Record<string, unknown>[] = [
      { alg: 'none' },
      { alg: 'HS256' },
      { alg: 'HS512' },
      { alg: 'RS256' },
      { alg: 'ES256' },
      { alg: 'PS256' },
      { alg: '' },
      { alg: null },
      { alg: ['EdDSA'] },
      { kid: 'other' },
      { kid: null },
      { kid: 7 },
      { kid: [kid] },
      { kid: '../../etc/passwd' },
      { kid: undefined },
      { jku: 'https://evil.test/jwks.json' },
      { jwk: { kty: 'OKP', crv: 'Ed25519', x: b64(bytes(32)) } },
      { x5u: 'https://evil.test/cert.pem' },
      { crit: ['exp'] },
      { crit: ['b64'], b64: false },
      { typ: 'JWT' },
      { typ: undefined },
      { cty: 'JWT' },
      { zip: 'DEF' },
      { enc: 'A256GCM' },
    ];
    const payloadTricks: Record<string, unknown>[] = [
      { sub: 'mallory' },
      { exp: 9_999_999_999 },
      { aud: 'billing-api' },
      { aud: [AUDIENCE, 'billing-api'] },
      { iss: 'https://evil.test' },
      { iss: ISSUER.toUpperCase() },
      { scope: 'orders:read admin' },
      { sid: 'x' },
      { nbf: 0 },
      { auth_time: 9_999_999_999 },
    ];
    const mutate = (t: string): string => {
      const [h = '', p = '', s = ''] = t.split('.');
      const i = Math.floor(rnd() * t.length);
      switch (Math.floor(rnd() * 11)) {
        case 0:
          return t.slice(0, i) + pick([...B64]) + t.slice(i + 1);
        case 1:
          return t.slice(0, i) + t.slice(i + 1);
        case 2:
          return t.slice(0, i) + printable() + t.slice(i);
        case 3:
          return t.slice(0, i);
        case 4:
          return pick([
            `${p}.${h}.${s}`,
            `${h}.${h}.${s}`,
            `${h}.${p}.${p}`,
            `${h}.${p}.${s}.${s}`,
            `${h}..${s}`,
            `.${p}.${s}`,
          ]);
        case 5:
          return `${b64({ ...decode(seeds[0]!).header, ...pick(headerTricks) })}.${p}.${s}`;
        case 6:
          return `${h}.${b64({ ...decode(seeds[0]!).payload, ...pick(payloadTricks) })}.${s}`;
        case 7:
          return `${h}.${p}.${b64(bytes(64))}`;
        case 8:
          return b64(bytes(1 + Math.floor(rnd() * 400)));
        case 9:
          return `${b64(pick(['{', '[]', 'null', '"x"', '{"alg":"EdDSA"']))}.${p}.${s}`;
        default:
          return `${h}.${p}.${s.slice(0, Math.floor(rnd() * s.length))}`;
      }
    };
    const mutants: string[] = [];
    while (mutants.length < 10_000) {
      let t = pick(seeds);
      for (let n = 1 + Math.floor(rnd() * 3); n > 0; n--) t = mutate(t);
      if (!seeds.includes(t) && t.trim() !== '') mutants.push(t);
    }
    const statuses = new Map<number, number>();
    const accepted: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < mutants.length) {
        const t = mutants[next++]!;
        const res = await fetch(api.url, { headers: { authorization: `Bearer ${t}` } });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status === 200) accepted.push(t);
        else {
          assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer realm="api"/);
          await res.arrayBuffer();
        }
      }
    };
    await Promise.all(Array.from({ length: 20 }, worker));
    assert.deepEqual(accepted, []);
    assert.deepEqual([...statuses], [[401, 10_000]]);
  });
});
