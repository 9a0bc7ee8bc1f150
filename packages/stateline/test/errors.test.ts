import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ERROR_CATALOGUE, StatelineError, isStatelineError, type ErrorCode } from '../src/errors.js';

const doc = readFileSync(new URL('../../../docs/ERRORS.md', import.meta.url), 'utf8');
const rows = new Map<string, number>();
for (const m of doc.matchAll(/^\| `(SL_ERR_[A-Z_]+)` \| (\d{3}) \|/gm)) rows.set(m[1]!, Number(m[2]));

describe('error catalogue', () => {
  it('every code in the code is documented in docs/ERRORS.md with the same status', () => {
    for (const [code, { status }] of Object.entries(ERROR_CATALOGUE)) {
      assert.equal(rows.get(code), status, `${code} missing or with another status in docs/ERRORS.md`);
    }
  });

  it('every code in docs/ERRORS.md exists in the code', () => {
    assert.ok(rows.size > 0, 'the table was parsed');
    for (const code of rows.keys()) assert.ok(code in ERROR_CATALOGUE, `${code} is documented but not in ERROR_CATALOGUE`);
  });

  it('StatelineError sets name, code, status and keeps the cause', () => {
    const cause = new Error('socket closed');
    const err = new StatelineError('SL_ERR_STORE_UNAVAILABLE', 'redis at 127.0.0.1:1', { cause });
    assert.equal(err.name, 'StatelineError');
    assert.equal(err.code, 'SL_ERR_STORE_UNAVAILABLE' satisfies ErrorCode);
    assert.equal(err.status, 503);
    assert.equal(err.cause, cause);
    assert.match(err.message, /cannot be reached: redis at 127\.0\.0\.1:1/);
    assert.ok(isStatelineError(err, 'SL_ERR_STORE_UNAVAILABLE'));
    assert.ok(!isStatelineError(err, 'SL_ERR_CLOSED'));
    assert.ok(!isStatelineError(new Error('x')));
  });
});
