import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rewriteRecord } from '../../src/session/record-text.js';

type Rec = Record<string, unknown> & { d: Record<string, unknown> };

const cart = {
  items: Array.from({ length: 20 }, (_, i) => ({ productId: `sku-${i}-"q\\"}`, qty: i % 5 })),
};

/** A stored record's text as the Store returns it (a slice of a longer reply) and its parse with `h`. */
function loaded(rec: Omit<Rec, 'h'>): { text: string; before: Rec } {
  const text = `12:1700000000000:${JSON.stringify(rec)}`.slice(17);
  return { text, before: { ...(JSON.parse(text) as Rec), h: 'handle' } };
}

/** What JSON.stringify of `after` without `h` parses to. */
const expected = (after: Rec): unknown => {
  const { h: _h, ...rest } = after;
  return JSON.parse(JSON.stringify(rest));
};

const base = {
  u: null,
  c: 1,
  s: 2,
  i: 3,
  a: 'ua "with" \\ quotes',
  d: { cart, theme: 'dark', 'we"ird': 1, hits: 9 } as Record<string, unknown>,
  k: 'k'.repeat(43),
};

describe('record text rewrite', () => {
  it('copies what did not change and serializes only the changed keys, as JSON.stringify would read', () => {
    const cases: [string, (b: Rec) => Rec, string[]][] = [
      ['a counter after the cart', (b) => ({ ...b, d: { ...b.d, hits: 10 } }), ['hits']],
      ['the cart itself', (b) => ({ ...b, d: { ...b.d, cart: { items: [] } } }), ['cart']],
      ['a key with a quote in its name', (b) => ({ ...b, d: { ...b.d, 'we"ird': 'x' } }), ['we"ird']],
      [
        'a removed key and a new one',
        (b) => {
          const d: Record<string, unknown> = { ...b.d, fresh: [1, 2] };
          delete d.theme;
          return { ...b, d };
        },
        ['theme', 'fresh'],
      ],
      ['top-level fields (touch, renewal)', (b) => ({ ...b, s: 50, k: 'n'.repeat(43), p: b.k, q: 99 }), []],
      [
        'a login and a logout',
        (b) => {
          const next = { ...b, u: 'user-1', l: 7, d: { ...b.d } };
          return next;
        },
        [],
      ],
      ['nothing', (b) => ({ ...b, d: { ...b.d } }), []],
    ];
    for (const [what, change, keys] of cases) {
      const { text, before } = loaded(base);
      const after = change(before);
      const out = rewriteRecord(text, before, after, new Set(keys));
      assert.ok(out !== null, `${what}: rewritten`);
      assert.deepEqual(JSON.parse(out), expected(after), what);
    }
  });

  it('a value changed in place without set keeps its stored text; set of the same object writes it', () => {
    const { text, before } = loaded(base);
    (before.d.cart as typeof cart).items.length = 0;
    const kept = rewriteRecord(text, before, { ...before, d: { ...before.d, hits: 10 } }, new Set(['hits']));
    assert.equal((JSON.parse(kept!) as Rec).d.cart && JSON.parse(kept!).d.cart.items.length, 20);
    const written = rewriteRecord(text, before, { ...before, d: { ...before.d } }, new Set(['cart']));
    assert.equal(JSON.parse(written!).d.cart.items.length, 0);
  });

  it('gives up (null) when a changed key sits among several objects, or the text is not the record', () => {
    const two = { ...base, d: { cart, prefs: { a: 1 }, hits: 1 } };
    const { text, before } = loaded(two);
    assert.equal(
      rewriteRecord(text, before, { ...before, d: { ...before.d, prefs: { a: 2 } } }, new Set(['prefs'])),
      null,
    );
    // Beside that run, a counter still goes.
    const out = rewriteRecord(text, before, { ...before, d: { ...before.d, hits: 2 } }, new Set(['hits']));
    assert.deepEqual(JSON.parse(out!), expected({ ...before, d: { ...before.d, hits: 2 } }));
    const other = loaded({ ...base, s: 5 });
    const touched: Rec = { ...before, s: 6 };
    assert.equal(rewriteRecord(other.text, before, touched, new Set()), null);
    assert.equal(rewriteRecord(`${text} `, before, touched, new Set()), null);
  });
});
