import type { RequestContext, SessionCookieOptions } from './types.js';

/** The cookie values of `name` in a Cookie header, in order (a browser may send duplicates). */
export function readCookies(header: string | undefined, name: string): string[] {
  if (!header) return [];
  const out: string[] = [];
  let start = 0;
  while (start < header.length) {
    let end = header.indexOf(';', start);
    if (end === -1) end = header.length;
    const eq = header.indexOf('=', start);
    if (eq !== -1 && eq < end && header.slice(start, eq).trim() === name) {
      let v = header.slice(eq + 1, end).trim();
      if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
      out.push(v);
    }
    start = end + 1;
  }
  return out;
}

/** Resolved cookie settings for one request. */
export interface CookieSettings {
  name: string;
  secure: boolean;
  attributes: string;
  /**
   * `hybrid`: the cookie that carries the session version the client was last answered with
   * (`sl.sid.v` beside `sl.sid`). Kept apart from the session cookie so that the session cookie,
   * which a gateway may hash on, stays the same across writes.
   */
  versionName: string;
}

const settingsCache = new WeakMap<object, [CookieSettings, CookieSettings]>();

/** Decides the cookie's name and attributes: Secure and `__Host-` when the request is secure. */
export function cookieSettings(
  options: Required<Pick<SessionCookieOptions, 'name' | 'secure' | 'sameSite'>> & SessionCookieOptions,
  req: RequestContext,
  trustProxy: boolean,
): CookieSettings {
  const viaTls =
    req.encrypted || (trustProxy && req.forwardedProto?.split(',')[0]?.trim().toLowerCase() === 'https');
  const secure = options.secure === 'auto' ? viaTls : options.secure;
  // Two possible answers per options object: build each once, not on every request.
  let pair = settingsCache.get(options);
  if (!pair) settingsCache.set(options, (pair = [build(options, false), build(options, true)]));
  return pair[secure ? 1 : 0];
}

function build(
  options: SessionCookieOptions & { name: string; sameSite: string },
  secure: boolean,
): CookieSettings {
  const samesite = options.sameSite === 'none' ? 'None' : options.sameSite === 'strict' ? 'Strict' : 'Lax';
  const hostOnly = secure && !options.domain;
  let attributes = `; Path=/; HttpOnly; SameSite=${samesite}`;
  if (secure) attributes += '; Secure';
  if (!hostOnly && options.domain) attributes += `; Domain=${options.domain}`;
  const name = hostOnly ? `__Host-${options.name}` : options.name;
  return { name, secure, attributes, versionName: `${name}.v` };
}

/** A Set-Cookie value; `maxAgeMs` null makes a browser-session cookie. */
export function setCookie(s: CookieSettings, value: string, maxAgeMs: number | null): string {
  const age = maxAgeMs === null ? '' : `; Max-Age=${Math.max(0, Math.floor(maxAgeMs / 1000))}`;
  return `${s.name}=${value}${age}${s.attributes}`;
}

/** A Set-Cookie value that deletes the cookie. */
export function clearCookie(s: CookieSettings): string {
  return `${s.name}=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT${s.attributes}`;
}

/** The settings of the version cookie (same attributes as the session cookie). */
export function versionSettings(s: CookieSettings): CookieSettings {
  return { ...s, name: s.versionName };
}

const VERSION_RE = /^[1-9][0-9]{0,14}$/;

/**
 * The highest well-formed version in the version cookie(s), else 0 (no floor). One scan of the
 * header, no allocation when there is none (it runs on every hybrid request).
 */
export function readVersion(header: string | undefined, s: CookieSettings): number {
  if (!header) return 0;
  const name = s.versionName;
  let max = 0;
  for (let at = header.indexOf(name); at !== -1; at = header.indexOf(name, at + name.length)) {
    const before = at === 0 ? ';' : header[at - 1];
    if (before !== ';' && before !== ' ' && before !== '\t') continue;
    let i = at + name.length;
    while (header[i] === ' ') i++;
    if (header[i] !== '=') continue;
    let end = header.indexOf(';', i);
    if (end === -1) end = header.length;
    const v = header.slice(i + 1, end).trim();
    if (VERSION_RE.test(v)) max = Math.max(max, Number(v));
  }
  return max;
}

/**
 * Every cookie of a Cookie header by name, as the `cookie` package parses it for express-session
 * and its kin: the first of duplicate names wins, quotes are removed, `%`-escapes decoded.
 */
export function cookieMap(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!header) return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    const name = part.slice(0, eq).trim();
    if (name === '' || out.has(name)) continue;
    let v = part.slice(eq + 1).trim();
    if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
    out.set(name, v.includes('%') ? decode(v) : v);
  }
  return out;
}

function decode(v: string): string {
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
}
