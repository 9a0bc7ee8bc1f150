/**
 * The cookies one virtual user holds, as a browser would for a single origin: `Set-Cookie`
 * replaces or (with `Max-Age<=0` or a past `Expires`) deletes a cookie by name; `Path`, `Domain`
 * and `Secure` are not needed against one local origin over plain HTTP.
 *
 * @example
 * ```ts
 * const jar = new CookieJar();
 * jar.store(['sl.sid=abc; Path=/; HttpOnly']);
 * jar.header(); // 'sl.sid=abc'
 * ```
 */
export class CookieJar {
  private readonly cookies = new Map<string, string>();

  /** Applies the `Set-Cookie` headers of one response. */
  store(setCookies: readonly string[]): void {
    for (const line of setCookies) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair?.indexOf('=') ?? -1;
      if (!pair || eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let gone = value === '';
      for (const a of attrs) {
        const [k = '', v = ''] = a.split('=', 2).map((s) => s.trim());
        const key = k.toLowerCase();
        if (key === 'max-age' && Number(v) <= 0) gone = true;
        if (key === 'expires' && Date.parse(v) <= Date.now()) gone = true;
      }
      if (gone) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  /** The `Cookie` header to send, or undefined when the jar is empty. */
  header(): string | undefined {
    if (this.cookies.size === 0) return undefined;
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  /** Forgets every cookie (a new browser). */
  clear(): void {
    this.cookies.clear();
  }
}
