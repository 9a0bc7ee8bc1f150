import type { Session } from './types.js';

/** Names a property for a message: `cart`, or `[Symbol(x)]`. */
function describe(key: string | symbol): string {
  return typeof key === 'string' ? key : `[${String(key)}]`;
}

function refuse(key: string | symbol): TypeError {
  const name = describe(key);
  const quoted = JSON.stringify(name);
  return new TypeError(
    `session.${name} = … would be lost: a session keeps only what goes through its methods. ` +
      `Use session.set(${quoted}, value), or await session.update(${quoted}, (current) => next) ` +
      `for a read-modify-write (docs/sessions.md, "Writing to the session").`,
  );
}

/**
 * Its own fields (the session's internal state) stay writable by its methods, whose `this` is the
 * proxy; any other name, or a read-only one (`userId`, `handle`, …), throws.
 */
const handler: ProxyHandler<Session> = {
  set(target, key, value) {
    if (!Object.hasOwn(target, key)) throw refuse(key);
    // Receiver is the target, not the proxy: no second trip through defineProperty below.
    return Reflect.set(target, key, value);
  },
  defineProperty(_target, key) {
    throw refuse(key);
  },
  deleteProperty(_target, key) {
    throw refuse(key);
  },
};

/**
 * The session as handlers see it: writing a property (`req.session.cart = x`, as express-session
 * code does) throws a `TypeError` naming `set()` and `update()` instead of being silently dropped.
 *
 * @example
 * ```ts
 * const session = sealSession(await strategy.load(request));
 * session.set('cart', ['p-1']); // kept
 * (session as unknown as { cart: string[] }).cart = ['p-1']; // TypeError: … use session.set("cart", value) …
 * ```
 */
export function sealSession<S extends Session>(session: S): S {
  return new Proxy(session, handler as ProxyHandler<S>);
}
