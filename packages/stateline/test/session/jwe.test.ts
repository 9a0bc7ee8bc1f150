import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
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
    const zipped = await new jose.CompactEncrypt(new TextEncoder().encode('p'))
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', kid, zip: 'DEF' } as jose.CompactJWEHeaderParameters)
      .encrypt(key)
      .catch(() => null);
    if (zipped) assert.equal(jwe.decrypt(zipped), null, 'zip is refused');
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
    // Bounded: after 3,000 newer tokens the first is opened again, and still reads.
    for (let i = 0; i < 3000; i++) j.encrypt(`{"i":${i}}`);
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
});
