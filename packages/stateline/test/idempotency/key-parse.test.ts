import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseIdempotencyKey } from '../../src/idempotency/index.js';

describe('Idempotency-Key parsing', () => {
  it('accepts bare keys of 1-255 visible ASCII characters', () => {
    const all = Array.from({ length: 0x7e - 0x21 + 1 }, (_, i) => String.fromCharCode(0x21 + i)).join('');
    for (const key of ['a', '8e03978e-40d5-43e8-bc93-6894a57f9324', 'x'.repeat(255), all, 'a"b', 'a\\b']) {
      assert.deepEqual(parseIdempotencyKey(key), { ok: true, key }, key);
    }
  });

  it('accepts RFC 8941 strings, unescaping \\" and \\\\, with spaces inside', () => {
    assert.deepEqual(parseIdempotencyKey('"abc"'), { ok: true, key: 'abc' });
    assert.deepEqual(parseIdempotencyKey('"a b"'), { ok: true, key: 'a b' });
    assert.deepEqual(parseIdempotencyKey('"say \\"hi\\" \\\\o/"'), { ok: true, key: 'say "hi" \\o/' });
    assert.deepEqual(parseIdempotencyKey(`"${'q'.repeat(255)}"`), { ok: true, key: 'q'.repeat(255) });
    assert.deepEqual(
      parseIdempotencyKey(`"${'\\\\'.repeat(255)}"`),
      { ok: true, key: '\\'.repeat(255) },
      'the limit counts unescaped characters',
    );
  });

  it('ignores surrounding spaces and tabs, as field parsing does', () => {
    assert.deepEqual(parseIdempotencyKey('  abc\t'), { ok: true, key: 'abc' });
    assert.deepEqual(parseIdempotencyKey(' "a b" '), { ok: true, key: 'a b' });
  });

  it('refuses everything else, with a reason', () => {
    const bad = [
      '',
      ' ',
      'a b',
      'x'.repeat(256),
      `"${'q'.repeat(256)}"`,
      '""',
      '"open',
      '"a"b',
      '"a" "b"',
      '"\\n"',
      '"\\"',
      'ü',
      '"ü"',
      '"tab\there"',
      'a\u007f',
      'k1, k2',
    ];
    for (const value of bad) {
      const r = parseIdempotencyKey(value);
      assert.equal(r.ok, false, JSON.stringify(value));
      assert.ok(!r.ok && r.reason.length > 0);
    }
  });
});
