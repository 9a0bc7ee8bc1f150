/** The CSRF decision every adapter runs, on its own (no server). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createCsrf, type CsrfOptions } from '../../src/csrf/index.js';
import { isStatelineError } from '../../src/errors.js';
import { forwarded, proxyTrust } from '../../src/http/index.js';

const req = (method: string, headers: Record<string, string>, peer = '203.0.113.9', encrypted = false) => ({
  method,
  header: (n: string) => headers[n],
  peer,
  encrypted,
});
const verdict = (o: CsrfOptions, method: string, headers: Record<string, string>, peer?: string) =>
  createCsrf(o).check(req(method, { host: 'shop.example', ...headers }, peer)).ok;
const JSON_BODY = { 'content-type': 'application/json', 'content-length': '2' };

describe('csrf check', () => {
  it('safe methods always pass', () => {
    for (const m of ['GET', 'HEAD', 'OPTIONS'])
      assert.ok(verdict({}, m, { origin: 'http://evil.example', 'content-type': 'text/plain' }));
  });

  it("the issue's attack: text/plain POST from another origin is refused; so are forms and untyped bodies", () => {
    assert.ok(!verdict({}, 'POST', { 'content-type': 'text/plain', origin: 'http://evil.example' }));
    assert.ok(!verdict({}, 'POST', { 'content-type': 'text/plain' }), 'even without Origin');
    assert.ok(
      !verdict({}, 'POST', { 'content-type': 'application/x-www-form-urlencoded', 'content-length': '0' }),
    );
    assert.ok(!verdict({}, 'POST', { 'content-type': 'multipart/form-data; boundary=x' }));
    assert.ok(!verdict({}, 'POST', { 'content-length': '5' }), 'a body without a type');
    assert.ok(verdict({}, 'POST', { 'content-type': 'application/merge-patch+json' }), '+json is JSON');
    assert.ok(
      verdict({ contentTypes: false }, 'POST', { 'content-type': 'text/plain' }),
      'contentTypes: false',
    );
  });

  it('Sec-Fetch-Site: same-origin and none pass; same-site only when allowed; cross-site never', () => {
    assert.ok(verdict({}, 'POST', { ...JSON_BODY, 'sec-fetch-site': 'same-origin' }));
    assert.ok(verdict({}, 'DELETE', { 'sec-fetch-site': 'none' }));
    assert.ok(
      !verdict({}, 'POST', {
        ...JSON_BODY,
        'sec-fetch-site': 'same-site',
        origin: 'http://shop.example:8080',
      }),
    );
    assert.ok(verdict({ allowSameSite: true }, 'POST', { ...JSON_BODY, 'sec-fetch-site': 'same-site' }));
    assert.ok(
      !verdict({}, 'POST', { ...JSON_BODY, 'sec-fetch-site': 'cross-site', origin: 'http://evil.example' }),
    );
    const o = { allowedOrigins: ['https://admin.example'] };
    assert.ok(
      verdict(o, 'POST', { ...JSON_BODY, 'sec-fetch-site': 'cross-site', origin: 'https://admin.example' }),
    );
  });

  it('Origin (else Referer) must be the request origin: Host, or a trusted proxy X-Forwarded-Proto/-Host', () => {
    assert.ok(verdict({}, 'POST', { ...JSON_BODY, origin: 'http://shop.example' }));
    assert.ok(verdict({}, 'POST', { ...JSON_BODY, origin: 'http://shop.example:80' }), 'default port');
    assert.ok(!verdict({}, 'POST', { ...JSON_BODY, origin: 'http://shop.example:8080' }), 'another port');
    assert.ok(!verdict({}, 'POST', { ...JSON_BODY, origin: 'https://shop.example' }), 'another scheme');
    assert.ok(!verdict({}, 'POST', { ...JSON_BODY, origin: 'null' }));
    assert.ok(verdict({}, 'POST', { ...JSON_BODY, referer: 'http://shop.example/cart?x=1' }));
    assert.ok(!verdict({}, 'POST', { ...JSON_BODY, referer: 'http://evil.example/shop.example' }));
    // Behind a TLS proxy: its word counts only when the peer is a trusted proxy.
    const behind = { ...JSON_BODY, origin: 'https://shop.example', 'x-forwarded-proto': 'https' };
    assert.ok(!verdict({}, 'POST', behind, '127.0.0.1'), 'proxy not configured');
    assert.ok(verdict({ trustedProxies: ['loopback'] }, 'POST', behind, '127.0.0.1'));
    assert.ok(
      !verdict({ trustedProxies: ['loopback'] }, 'POST', behind, '198.51.100.1'),
      'not from the proxy',
    );
    const host = { ...JSON_BODY, origin: 'http://public.example', 'x-forwarded-host': 'public.example' };
    assert.ok(verdict({ trustedProxies: ['10.0.0.0/8'] }, 'POST', host, '10.1.2.3'));
    assert.ok(!verdict({ trustedProxies: ['10.0.0.0/8'] }, 'POST', host, '11.1.2.3'));
  });

  it('neither Origin nor Sec-Fetch-Site (curl, server to server): passes with a JSON body or none', () => {
    assert.ok(verdict({}, 'POST', JSON_BODY));
    assert.ok(verdict({}, 'POST', {}));
    assert.ok(verdict({}, 'DELETE', { 'content-length': '0' }));
  });

  it('double-submit token: the header must repeat the cookie', () => {
    const o = { doubleSubmit: { cookie: 'csrf', header: 'x-csrf-token' } };
    const h = { ...JSON_BODY, 'sec-fetch-site': 'same-origin' };
    assert.ok(verdict(o, 'POST', { ...h, cookie: 'a=1; csrf=t0k', 'x-csrf-token': 't0k' }));
    assert.ok(!verdict(o, 'POST', { ...h, cookie: 'csrf=t0k', 'x-csrf-token': 't0x' }));
    assert.ok(!verdict(o, 'POST', { ...h, cookie: 'csrf=t0k' }));
    assert.ok(!verdict(o, 'POST', { ...h, 'x-csrf-token': 't0k' }));
  });

  it('refuses options it cannot use', () => {
    for (const o of [{ allowedOrigins: ['not a url'] }, { trustedProxies: ['10.0.0.0/99'] }, { nope: 1 }])
      assert.throws(
        () => createCsrf(o as CsrfOptions),
        (e) => isStatelineError(e, 'SL_ERR_INVALID_OPTION'),
      );
  });
});

describe('forwarded', () => {
  const input = (peer: string, headers: Record<string, string>) => ({
    peer,
    encrypted: false,
    header: (n: string) => headers[n],
  });
  it('a trusted peer: the last X-Forwarded-For entry (the one it appended); from anyone else, the socket', () => {
    const t = proxyTrust(['loopback', '10.0.0.0/8']);
    const xff = { 'x-forwarded-for': '6.6.6.6, 203.0.113.9', host: 'h' };
    assert.equal(forwarded(input('127.0.0.1', xff), t).address, '203.0.113.9');
    assert.equal(forwarded(input('::ffff:127.0.0.1', xff), t).address, '203.0.113.9');
    assert.equal(forwarded(input('198.51.100.7', xff), t).address, '198.51.100.7');
    assert.equal(forwarded(input('127.0.0.1', xff), proxyTrust(undefined)).address, '127.0.0.1');
    assert.equal(forwarded(input('127.0.0.1', { host: 'h' }), t).address, '127.0.0.1');
    assert.ok(proxyTrust(['fd00::/8'])('fd12::5') && !proxyTrust(['fd00::/8'])('fe00::1'));
  });
});
