import type { RequestContext, Session, SessionManager } from '../../src/session/types.js';

/** A browser's cookie jar for one site, enough to drive a SessionManager without HTTP. */
export class Jar {
  private readonly cookies = new Map<string, string>();
  constructor(readonly encrypted = false) {}

  header(): string | undefined {
    if (this.cookies.size === 0) return undefined;
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  apply(setCookie: string[]): void {
    for (const line of setCookie) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      if (/;\s*Max-Age=0\b/i.test(line) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  get(name: string): string | undefined {
    return this.cookies.get(name);
  }

  set(name: string, value: string): void {
    this.cookies.set(name, value);
  }

  clone(): Jar {
    const j = new Jar(this.encrypted);
    for (const [k, v] of this.cookies) j.cookies.set(k, v);
    return j;
  }

  context(userAgent = 'test-agent/1.0'): RequestContext {
    return { cookie: this.header(), encrypted: this.encrypted, userAgent };
  }
}

/** One request: load, run `fn`, commit, store the cookies. Returns what `fn` returned and the Set-Cookie lines. */
export async function request<T>(
  m: SessionManager,
  jar: Jar,
  fn: (s: Session) => T | Promise<T>,
): Promise<{ value: T; setCookie: string[]; session: Session }> {
  const session = await m.load(jar.context());
  const value = await fn(session);
  const { setCookie } = await session.commit();
  jar.apply(setCookie);
  return { value, setCookie, session };
}

/** A controllable clock for timeout tests. */
export class FakeClock {
  constructor(public t = Date.now()) {}
  now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

export const KEY_A = 'a-very-long-test-secret-of-at-least-32-chars-A';
export const KEY_B = 'a-very-long-test-secret-of-at-least-32-chars-B';
