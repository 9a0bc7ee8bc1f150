import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defineError, isStatelineError, StatelineError } from '../src/errors.js';
import { PROBLEM_CONTENT_TYPE, problem, problemFor } from '../src/http/problem.js';
import { SL_ERR_NOT_FOUND } from '../src/http/http-errors.js';

/** Codes unique to this file: the registry is per process. */
const code = (name: string) => `SL_ERR_TEST_DEFINE_${name}`;

const invalid = (fn: () => unknown, detail: RegExp) =>
  assert.throws(
    fn,
    (err: unknown) => isStatelineError(err, 'SL_ERR_INVALID_ARGUMENT') && detail.test(err.message),
  );

describe('defineError', () => {
  it('makes StatelineErrors with the code, status, message, detail and cause', () => {
    const Empty = defineError(code('EMPTY'), 409, 'The basket is empty');
    const cause = new Error('no lines');
    const err = new Empty('add something first', { cause });
    assert.ok(err instanceof StatelineError);
    assert.ok(err instanceof Empty);
    assert.ok(err instanceof Error);
    assert.equal(err.name, 'StatelineError');
    assert.equal(err.code, code('EMPTY'));
    assert.equal(err.status, 409);
    assert.equal(err.message, 'The basket is empty: add something first');
    assert.equal(err.cause, cause);
    assert.equal(new Empty().message, 'The basket is empty');
    assert.deepEqual([Empty.code, Empty.status, Empty.message], [code('EMPTY'), 409, 'The basket is empty']);
    assert.equal(Empty.name, code('EMPTY'));
    assert.ok(isStatelineError(err, code('EMPTY')));
    assert.ok(isStatelineError(err, Empty.code));
    assert.ok(!isStatelineError(err, 'SL_ERR_INTERNAL'));
  });

  it('keeps each defined error apart from the others', () => {
    const A = defineError(code('A'), 400, 'A happened');
    const B = defineError(code('B'), 400, 'B happened');
    const a = new A();
    assert.ok(!(a instanceof B));
    assert.ok(!isStatelineError(a, B.code));
    assert.ok(!(new StatelineError('SL_ERR_CLOSED') instanceof A));
  });

  it('a second identical definition returns the same constructor; any other one throws', () => {
    const first = defineError(code('TWICE'), 429, 'Slow down');
    assert.equal(defineError(code('TWICE'), 429, 'Slow down'), first);
    invalid(() => defineError(code('TWICE'), 503, 'Slow down'), /already defined as 429 "Slow down"/);
    invalid(() => defineError(code('TWICE'), 429, 'Slow down, please'), /already defined/);
    assert.equal(new first().status, 429, 'the first definition stands');
  });

  it('a library code may be defined again only as the library defines it', () => {
    const Closed = defineError('SL_ERR_CLOSED', 503, 'The backend was closed');
    assert.equal(new Closed('bus').code, 'SL_ERR_CLOSED');
    invalid(() => defineError('SL_ERR_CLOSED', 410, 'The backend was closed'), /already defined as 503/);
    invalid(() => defineError('SL_ERR_NOT_FOUND', 404, 'Nothing here'), /already defined as 404/);
  });

  it('refuses codes outside SL_ERR_[A-Z0-9_]+, non-error statuses and empty messages', () => {
    for (const bad of [
      'CART_EMPTY',
      'sl_err_cart_empty',
      'SL_ERR_',
      'SL_ERR_cart',
      'SL_ERR_CART-EMPTY',
      ' SL_ERR_X',
      '',
    ])
      invalid(() => defineError(bad, 400, 'x'), /must match/);
    assert.equal(defineError(code('V2_OK'), 400, 'digits are fine').code, code('V2_OK'));
    for (const status of [200, 399, 600, 404.5, Number.NaN])
      invalid(() => defineError(code('S'), status, 'x'), /not an HTTP error/);
    invalid(() => defineError(code('M'), 400, ''), /non-empty/);
  });

  it('StatelineError refuses a definition that was never registered', () => {
    invalid(
      () => new StatelineError({ code: code('FORGED'), status: 418, message: 'teapot' }),
      /not defined this way/,
    );
    const Real = defineError(code('REAL'), 409, 'Real');
    invalid(
      () => new StatelineError({ code: Real.code, status: 500, message: 'Real' }),
      /not defined this way/,
    );
    assert.equal(new StatelineError(Real, 'by definition').status, 409);
  });

  it('problemFor and problem render a defined error with its own code and status', () => {
    const Limit = defineError(code('LIMIT'), 422, 'A line would pass its limit');
    const thrown = problemFor(new Limit('at most 999'), { 'x-extra': '1' });
    const built = problem(Limit, 'at most 999', { 'x-extra': '1' });
    for (const p of [thrown, built]) {
      assert.equal(p.status, 422);
      assert.equal(p.headers['content-type'], PROBLEM_CONTENT_TYPE);
      assert.equal(p.headers['x-extra'], '1');
      assert.equal(p.headers['retry-after'], undefined);
      assert.deepEqual(JSON.parse(p.body), {
        type: `https://stateline.dev/errors#${code('LIMIT')}`,
        title: 'A line would pass its limit',
        status: 422,
        code: code('LIMIT'),
        detail: 'A line would pass its limit: at most 999',
      });
    }
    const unavailable = problemFor(new (defineError(code('DOWN'), 503, 'Down for a moment'))());
    assert.equal(unavailable.headers['retry-after'], '1', 'a 503 gets Retry-After, defined or not');
    const notFound = JSON.parse(problem(SL_ERR_NOT_FOUND, 'no product "p9"').body) as {
      code: string;
      status: number;
    };
    assert.deepEqual([notFound.code, notFound.status], ['SL_ERR_NOT_FOUND', 404]);
  });
});
