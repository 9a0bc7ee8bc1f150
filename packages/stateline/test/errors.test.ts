import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ERROR_CATALOGUE, StatelineError, isStatelineError, type ErrorCode } from '../src/errors.js';
import { HTTP_ERRORS } from '../src/http/http-errors.js';
import { describeErrorDocs, documentedSections } from './support/error-docs.js';

const PACKAGES = ['stateline', '@stateline/gateway', '@stateline/lab', '@stateline/shop'];

describeErrorDocs('stateline', [
  ...Object.entries(ERROR_CATALOGUE).map(([code, { status }]) => ({ code, status })),
  ...HTTP_ERRORS,
]);

describe('error catalogue', () => {
  it('docs/ERRORS.md documents each code in one package section only', () => {
    const seen = new Map<string, string>();
    for (const [section, rows] of documentedSections()) {
      if (rows.size === 0) continue;
      assert.ok(PACKAGES.includes(section), `codes documented under "## ${section}", which is no package`);
      for (const code of rows.keys()) {
        assert.equal(
          seen.get(code),
          undefined,
          `${code} is documented under ${seen.get(code)} and ${section}`,
        );
        seen.set(code, section);
      }
    }
    assert.deepEqual(new Set(seen.values()), new Set(PACKAGES), 'every package has a section with codes');
  });

  it('the catalogue holds only codes the library raises, and the library names no code of its users', () => {
    const src = new URL('../src/', import.meta.url);
    const text = readdirSync(src, { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts') && f !== 'errors.ts')
      .map((f) => readFileSync(new URL(f, src), 'utf8'))
      .join('\n');
    const raised = new Set(text.match(/SL_ERR_[A-Z0-9_]+/g));
    for (const code of Object.keys(ERROR_CATALOGUE)) assert.ok(raised.has(code), `${code} is never raised`);
    const sections = documentedSections();
    for (const pkg of PACKAGES.slice(1))
      for (const code of sections.get(pkg)?.keys() ?? [])
        assert.ok(!raised.has(code), `packages/stateline/src names ${code}, which ${pkg} owns`);
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
