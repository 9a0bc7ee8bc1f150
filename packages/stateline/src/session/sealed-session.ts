/**
 * Why a session refuses property writes: express-session code writes `req.session.cart = x`, and
 * a Stateline session keeps only what goes through its methods, so such a write would be lost.
 */
function describe(key: string | symbol): string {
  return typeof key === 'string' ? key : `[${String(key)}]`;
}

/**
 * The TypeError for `session.<key> = …`, naming the methods that keep the value.
 *
 * @example
 * ```ts
 * throw writeRefused('cart'); // TypeError: session.cart = … would be lost: … session.set("cart", value) …
 * ```
 */
export function writeRefused(key: string | symbol, hint?: string): TypeError {
  const name = describe(key);
  const quoted = JSON.stringify(name);
  return new TypeError(
    `session.${name} = … would be lost: a session keeps only what goes through its methods. ` +
      (hint ??
        `Use session.set(${quoted}, value), or await session.update(${quoted}, (current) => next) ` +
          `for a read-modify-write`) +
      ' (docs/sessions.md, "Writing to the session").',
  );
}

/**
 * The prototype every session class ends in: a proxy reached only when a property is neither the
 * session's own (its internal state, set by its methods) nor one of its class's members. Reads of
 * such names answer as `Object.prototype` does; writes and definitions of them throw
 * {@link writeRefused}. Nothing is wrapped per request: a session's own reads and writes never get
 * this far, so the hit path pays nothing (docs/sessions.md, "Writing to the session").
 *
 * @example
 * ```ts
 * Object.setPrototypeOf(BaseSession.prototype, SEALED_PROTOTYPE);
 * (session as unknown as { cart: string[] }).cart = ['p-1']; // TypeError naming set() and update()
 * ```
 */
export const SEALED_PROTOTYPE: object = new Proxy(Object.prototype, {
  set(_target, key) {
    throw writeRefused(key);
  },
  defineProperty(_target, key) {
    throw writeRefused(key);
  },
});

/** What to say for a read-only member a handler assigned to. */
const READ_ONLY: Readonly<Record<string, string>> = {
  userId: 'The user is bound with await session.login(userId)',
  handle: 'The handle is chosen by the session; it is read-only',
  isNew: 'isNew is read-only: it turns false once the session is saved',
  degraded: 'degraded is read-only: the manager sets it when the Store is down',
};

/**
 * Seals a session class (every class whose instances handlers receive): a read-only member
 * (`userId`, `handle`, …) throws when assigned instead of being ignored by sloppy code, `then` is
 * answered on the prototype (promise resolution looks it up on every load: there it never walks
 * into the proxy, whose slow path cost ~5 % of a session hit), and a class that extends nothing
 * ends in {@link SEALED_PROTOTYPE}. Its constructor then calls `Object.preventExtensions(this)`.
 *
 * @example
 * ```ts
 * class MySession implements Session { … }
 * sealSessionClass(MySession);
 * ```
 */
export function sealSessionClass(cls: { prototype: object }): void {
  const proto = cls.prototype;
  for (const key of Object.getOwnPropertyNames(proto)) {
    const d = Object.getOwnPropertyDescriptor(proto, key)!;
    if (d.get && !d.set) {
      Object.defineProperty(proto, key, {
        ...d,
        set() {
          throw writeRefused(key, READ_ONLY[key] ?? `${key} is read-only`);
        },
      });
    }
  }
  if (!Object.hasOwn(proto, 'then')) Object.defineProperty(proto, 'then', { value: undefined });
  if (Object.getPrototypeOf(proto) === Object.prototype) Object.setPrototypeOf(proto, SEALED_PROTOTYPE);
}
