/**
 * The value of cookie `name` in a Cookie header, or undefined. Scans without splitting (this runs
 * on every sticky or hashed request): a match must start the header or follow `;` and spaces.
 */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  let from = 0;
  for (;;) {
    const at = header.indexOf(name, from);
    if (at < 0) return undefined;
    const eq = at + name.length;
    from = eq;
    if (header.charCodeAt(eq) !== 61 /* = */) continue;
    let k = at - 1;
    while (k >= 0 && header.charCodeAt(k) === 32) k--;
    if (k >= 0 && header.charCodeAt(k) !== 59 /* ; */) continue;
    const end = header.indexOf(';', eq + 1);
    let value = (end < 0 ? header.slice(eq + 1) : header.slice(eq + 1, end)).trim();
    if (value.length >= 2 && value.charCodeAt(0) === 34 && value.charCodeAt(value.length - 1) === 34) {
      value = value.slice(1, -1);
    }
    return value;
  }
}

/** The Set-Cookie value that pins a client to instance `id`: HttpOnly, SameSite=Lax, Path=/, session-long. */
export function stickyCookieHeader(name: string, id: string): string {
  return `${name}=${id}; Path=/; HttpOnly; SameSite=Lax`;
}
