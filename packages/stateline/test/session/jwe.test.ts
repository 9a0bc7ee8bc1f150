import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createCipheriv, randomBytes } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import * as jose from 'jose';
import { CompactJwe } from '../../src/session/jwe.js';
import { KeyRing } from '../../src/session/key-ring.js';
import { KEY_A, KEY_B } from './client.js';

describe('compact JWE (dir + A256GCM)', () => {
  const ring = new KeyRing([KEY_A]);
  const jwe = new CompactJwe(ring.encryptionKeys);
  const { kid, key } = ring.encryptionKeys[0]!;

  it('jose reads what we write', async () => {
    const token = jwe.encrypt('{"hello":"wörld"}');
    const { plaintext, protectedHeader } = await jose.compactDecrypt(token, key, {
      keyManagementAlgorithms: ['dir'],
      contentEncryptionAlgorithms: ['A256GCM'],
    });
    assert.equal(new TextDecoder().decode(plaintext), '{"hello":"wörld"}');
    assert.deepEqual(protectedHeader, { alg: 'dir', enc: 'A256GCM', kid });
  });

  it('we read what jose writes, with any header order', async () => {
    for (const header of [
      { alg: 'dir', enc: 'A256GCM', kid },
      { kid, enc: 'A256GCM', alg: 'dir', typ: 'JWT' },
    ] as const) {
      const token = await new jose.CompactEncrypt(new TextEncoder().encode('payload'))
        .setProtectedHeader(header)
        .encrypt(key);
      assert.equal(jwe.decrypt(token), 'payload');
    }
  });

  it('refuses what it does not implement or cannot authenticate', async () => {
    const good = jwe.encrypt('x');
    const parts = good.split('.');
    const flip = (s: string) => s.slice(0, 3) + (s[3] === 'A' ? 'B' : 'A') + s.slice(4);
    assert.equal(jwe.decrypt([parts[0], '', parts[2], parts[3], flip(parts[4]!)].join('.')), null, 'tag');
    assert.equal(
      jwe.decrypt([parts[0], '', parts[2], flip(parts[3]!), parts[4]].join('.')),
      null,
      'ciphertext',
    );
    assert.equal(
      jwe.decrypt([flip(parts[0]!), '', parts[2], parts[3], parts[4]].join('.')),
      null,
      'header (AAD)',
    );
    assert.equal(
      jwe.decrypt([parts[0], 'AAAA', parts[2], parts[3], parts[4]].join('.')),
      null,
      'an encrypted key',
    );
    const gz = Buffer.from(JSON.stringify({ alg: 'dir', enc: 'A256GCM', kid, zip: 'GZ' })).toString('base64url');
    assert.equal(jwe.decrypt(`${gz}..${parts[2]}.${parts[3]}.${parts[4]}`), null, 'a zip other than DEF');
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}..${parts[2]}.${parts[3]}.${parts[4]}`;
    assert.equal(jwe.decrypt(none), null, 'alg none');
    const other = new CompactJwe(new KeyRing([KEY_B]).encryptionKeys);
    assert.equal(other.decrypt(good), null, 'a key the ring does not have');
    for (const junk of ['', '....', 'a.b.c', good + '.x', 'x'.repeat(5000)])
      assert.equal(jwe.decrypt(junk), null);
  });

  it('a token it wrote or opened is not opened again; an altered copy still is, and is refused', () => {
    const j = new CompactJwe(ring.encryptionKeys);
    const spy = j as unknown as { open: (t: string) => string | null };
    const real = spy.open.bind(j);
    let opened = 0;
    spy.open = (t) => (opened++, real(t));
    const mine = j.encrypt('{"n":1}');
    assert.equal(j.decrypt(mine), '{"n":1}');
    assert.equal(opened, 0, 'its own token comes from memory');
    const other = new CompactJwe(ring.encryptionKeys).encrypt('{"n":2}');
    assert.deepEqual([j.decrypt(other), j.decrypt(other)], ['{"n":2}', '{"n":2}']);
    assert.equal(opened, 1, 'a foreign token is opened once');
    const last = mine.at(-2) === 'A' ? 'B' : 'A';
    assert.equal(j.decrypt(`${mine.slice(0, -2)}${last}${mine.at(-1)}`), null);
    assert.equal(opened, 2);
    // Bounded: after 30,000 newer tokens (~6 MB with the 8 MiB default) the first is still there…
    for (let i = 0; i < 30_000; i++) j.encrypt(`{"i":${i}}`);
    assert.ok(j.cached.bytes <= 8 * 1024 * 1024);
    assert.equal(j.decrypt(mine), '{"n":1}');
    assert.equal(opened, 2);
    // …after 60,000 it has been pushed out: opened again, and still reads.
    for (let i = 0; i < 30_000; i++) j.encrypt(`{"i":${i + 30_000}}`);
    assert.ok(j.cached.bytes <= 8 * 1024 * 1024, `${j.cached.bytes} bytes cached`);
    assert.equal(j.decrypt(mine), '{"n":1}');
    assert.equal(opened, 3);
    // A ring without the key refuses it, whatever other instances remember.
    assert.equal(new CompactJwe(new KeyRing([KEY_B]).encryptionKeys).decrypt(mine), null);
  });

  it('old keys still decrypt after rotation; the newest encrypts', () => {
    const rotated = new CompactJwe(new KeyRing([KEY_B, KEY_A]).encryptionKeys);
    assert.equal(rotated.decrypt(jwe.encrypt('old')), 'old');
    assert.equal(jwe.decrypt(rotated.encrypt('new')), null);
  });

  describe('zip: DEF and the cache bound by bytes', () => {
    /** A 100-line cart as the shop keeps it, inside a session record. */
    const cart = JSON.stringify({
      h: 'Xk3mH2pQ9sV1bN7rT4yW0a',
      c: 1_700_000_000_000,
      s: 1_700_000_000_000,
      i: 1_700_000_000_000,
      u: null,
      a: 'Mozilla/5.0',
      d: { cart: { items: Array.from({ length: 100 }, (_, n) => ({ productId: `product-${n}`, qty: 1 + (n % 9) })) } },
    });
    const header = (token: string) => JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as object;
    /** Seals `data` under the test key with a `zip: DEF` header, as another JWE library might. */
    const sealZipped = (data: Buffer) => {
      const h = Buffer.from(JSON.stringify({ alg: 'dir', enc: 'A256GCM', kid, zip: 'DEF' })).toString('base64url');
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', key, iv);
      c.setAAD(Buffer.from(h, 'ascii'));
      const ct = Buffer.concat([c.update(data), c.final()]);
      return `${h}..${iv.toString('base64url')}.${ct.toString('base64url')}.${c.getAuthTag().toString('base64url')}`;
    };

    it('round-trips compressed, and a fresh ring (nothing cached) opens it', () => {
      const zj = new CompactJwe(ring.encryptionKeys, { compressAbove: 1024 });
      const plain = new CompactJwe(ring.encryptionKeys).encrypt(cart);
      const zipped = zj.encrypt(cart, true);
      assert.deepEqual(header(zipped), { alg: 'dir', enc: 'A256GCM', zip: 'DEF', kid });
      assert.ok(plain.length > 4096, `uncompressed ${plain.length} bytes`);
      assert.ok(zipped.length < 1024, `compressed ${zipped.length} bytes`);
      assert.equal(new CompactJwe(ring.encryptionKeys).decrypt(zipped), cart, 'a ring with compression off');
      assert.equal(new CompactJwe(ring.encryptionKeys, { compressAbove: 1024 }).decrypt(zipped), cart);
      // Below the threshold, or not asked to: no zip.
      assert.deepEqual(header(zj.encrypt('{"small":1}', true)), { alg: 'dir', enc: 'A256GCM', kid });
      assert.deepEqual(header(zj.encrypt(cart, false)), { alg: 'dir', enc: 'A256GCM', kid });
    });

    it('old (uncompressed) tokens still open in a ring that compresses', () => {
      const old = new CompactJwe(ring.encryptionKeys).encrypt(cart);
      assert.equal(new CompactJwe(ring.encryptionKeys, { compressAbove: 1024 }).decrypt(old), cart);
    });

    it('a tampered compressed token is refused before anything is inflated', () => {
      const zipped = new CompactJwe(ring.encryptionKeys, { compressAbove: 1 }).encrypt(cart, true);
      const parts = zipped.split('.');
      const flip = (s: string) => s.slice(0, 3) + (s[3] === 'A' ? 'B' : 'A') + s.slice(4);
      const fresh = () => new CompactJwe(ring.encryptionKeys);
      assert.equal(fresh().decrypt([parts[0], '', parts[2], flip(parts[3]!), parts[4]].join('.')), null);
      assert.equal(fresh().decrypt([parts[0], '', parts[2], parts[3], flip(parts[4]!)].join('.')), null);
      // The zip flag is in the AAD: dropping it does not hand out the deflated bytes.
      const unzipped = Buffer.from(JSON.stringify({ alg: 'dir', enc: 'A256GCM', kid })).toString('base64url');
      assert.equal(fresh().decrypt([unzipped, '', parts[2], parts[3], parts[4]].join('.')), null);
    });

    it('a decompression bomb is refused: inflating stops at maxInflatedBytes', () => {
      const bomb = sealZipped(deflateRawSync(Buffer.alloc(20 * 1024 * 1024, 0x20)));
      assert.ok(bomb.length < 40_000, `bomb token ${bomb.length} bytes`);
      assert.equal(new CompactJwe(ring.encryptionKeys).decrypt(bomb), null, '20 MiB > 256 KiB default');
      const fine = sealZipped(deflateRawSync(Buffer.from(cart)));
      assert.equal(new CompactJwe(ring.encryptionKeys, { maxInflatedBytes: cart.length }).decrypt(fine), cart);
      assert.equal(new CompactJwe(ring.encryptionKeys, { maxInflatedBytes: cart.length - 1 }).decrypt(fine), null);
    });

    it('tokens over 1 KB are cached too; the cache is bounded by bytes, oldest out', () => {
      const budget = 128 * 1024;
      const j = new CompactJwe(ring.encryptionKeys, { cacheBytes: budget });
      const spy = j as unknown as { open: (t: string) => string | null };
      const real = spy.open.bind(j);
      let opened = 0;
      spy.open = (t) => (opened++, real(t));
      const sealer = new CompactJwe(ring.encryptionKeys);
      const big = sealer.encrypt(cart); // ~5.7 KB
      assert.ok(big.length > 4096);
      assert.deepEqual([j.decrypt(big), j.decrypt(big)], [cart, cart]);
      assert.equal(opened, 1, 'a 5.7 KB token is opened once');
      // Same-length variants: each entry costs the same, so the budget holds exactly `fit` of them.
      const variant = (n: number) => sealer.encrypt(cart.replace('product-0', `prod${n}ct-0`));
      const fit = Math.floor(budget / (big.length + cart.length + 64));
      for (let n = 0; n < fit - 1; n++) j.decrypt(variant(n));
      assert.equal(j.cached.entries, fit);
      assert.ok(j.cached.bytes <= budget);
      j.decrypt(big);
      assert.equal(opened, fit, 'still cached');
      j.decrypt(variant(9));
      assert.ok(j.cached.bytes <= budget, `${j.cached.bytes} bytes`);
      assert.equal(j.cached.entries, fit);
      j.decrypt(big);
      assert.equal(opened, fit + 2, 'the oldest was evicted, so it is opened again');
      // An entry over an eighth of the budget is never kept.
      const tiny = new CompactJwe(ring.encryptionKeys, { cacheBytes: 8 * 1024 });
      tiny.decrypt(big);
      assert.equal(tiny.cached.entries, 0);
    });
  });
});
