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

  it('old keys still decrypt after rotation; the newest encrypts', () => {
    const rotated = new CompactJwe(new KeyRing([KEY_B, KEY_A]).encryptionKeys);
    assert.equal(rotated.decrypt(jwe.encrypt('old')), 'old');
    assert.equal(jwe.decrypt(rotated.encrypt('new')), null);
  });
});
