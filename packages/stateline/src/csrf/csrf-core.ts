import { timingSafeEqual } from 'node:crypto';
import { StatelineError } from '../errors.js';
import { forwarded, proxyTrust, type TrustedProxies } from '../http/forwarded.js';

/** Options of the CSRF check, the same for every adapter. */
export interface CsrfOptions {
  /** Origins besides the request's own that may send unsafe requests, e.g. `['https://admin.example']`. */
  allowedOrigins?: readonly string[];
  /** Accept `Sec-Fetch-Site: same-site` (another port or subdomain of this site). Default false. */
  allowSameSite?: boolean;
  /**
   * Media types an unsafe request's body may have (default `['application/json']`, which also
   * admits `…+json`). `false` skips the check, e.g. for an app that takes HTML form posts.
   */
  contentTypes?: readonly string[] | false;
  /** Peers whose `X-Forwarded-Proto`/`-Host` say what the request's own origin is (default: none). */
  trustedProxies?: TrustedProxies;
  /** Double-submit token: an unsafe request must repeat this cookie's value in this header. */
  doubleSubmit?: { cookie: string; header: string };
}

/** What the check reads from a request, whatever the framework. */
export interface CsrfRequest {
  method: string;
  /** A request header (lower-case name); several values joined with `, `. */
  header(name: string): string | undefined;
  /** The peer's address (`socket.remoteAddress`). */
  peer: string | undefined;
  /** True when the connection itself is TLS. */
  encrypted: boolean;
}

/** The outcome: allowed, or refused with a reason for the problem's detail. */
export type CsrfVerdict = { ok: true } | { ok: false; reason: string };

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);
const OPTION_NAMES = new Set([
  'allowedOrigins',
  'allowSameSite',
  'contentTypes',
  'trustedProxies',
  'doubleSubmit',
]);

function originOf(url: string): string | null {
  try {
    const u = new URL(url);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.origin : null;
  } catch {
    return null;
  }
}

function cookieValue(cookie: string | undefined, name: string): string | undefined {
  for (const part of (cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Builds the CSRF check every adapter runs (OWASP's defence in depth, without server state).
 * For an unsafe method (anything but GET, HEAD, OPTIONS, TRACE):
 *
 * 1. a body must have an accepted media type (`application/json` by default): a cross-site form
 *    or a fetch without a CORS preflight cannot send one;
 * 2. `Sec-Fetch-Site` must be `same-origin` or `none` (`same-site` only with `allowSameSite`),
 *    unless `Origin` is one of `allowedOrigins`;
 * 3. without `Sec-Fetch-Site`, `Origin` (else `Referer`) must be the request's own origin
 *    (scheme from the connection or a trusted proxy's `X-Forwarded-Proto`, host from `Host` or a
 *    trusted proxy's `X-Forwarded-Host`) or one of `allowedOrigins`; `Origin: null` is refused;
 * 4. with neither header (curl, server-to-server: browsers always send one of them on unsafe
 *    requests) the request passes on rule 1 alone;
 * 5. with `doubleSubmit`, the header must repeat the cookie's value.
 *
 * Throws `SL_ERR_INVALID_OPTION` for an option it does not know or cannot use.
 *
 * @example
 * ```ts
 * import { createCsrf } from 'stateline/csrf';
 * const csrf = createCsrf({ allowedOrigins: ['https://admin.example'] });
 * const v = csrf.check({ method: 'POST', header: (n) => headers[n], peer: '203.0.113.9', encrypted: true });
 * if (!v.ok) console.log(v.reason);
 * ```
 */
export function createCsrf(options: CsrfOptions = {}): { check(req: CsrfRequest): CsrfVerdict } {
  for (const name of Object.keys(options))
    if (!OPTION_NAMES.has(name))
      throw new StatelineError('SL_ERR_INVALID_OPTION', `csrf: unknown option "${name}"`);
  const allowed = new Set<string>();
  for (const o of options.allowedOrigins ?? []) {
    const origin = originOf(o);
    if (origin === null)
      throw new StatelineError(
        'SL_ERR_INVALID_OPTION',
        `csrf: allowedOrigins entry "${o}" is not an http(s) origin`,
      );
    allowed.add(origin);
  }
  const types =
    options.contentTypes === false
      ? null
      : (options.contentTypes ?? ['application/json']).map((t) => t.toLowerCase());
  let trusted: (a: string | undefined) => boolean;
  try {
    trusted = proxyTrust(options.trustedProxies);
  } catch (err) {
    throw new StatelineError('SL_ERR_INVALID_OPTION', `csrf: ${(err as Error).message}`);
  }
  const allowSameSite = options.allowSameSite === true;
  const double = options.doubleSubmit;

  const refuse = (reason: string): CsrfVerdict => ({ ok: false, reason });

  const mediaType = (req: CsrfRequest): CsrfVerdict | null => {
    if (types === null) return null;
    const raw = req.header('content-type');
    if (raw === undefined) {
      const length = req.header('content-length');
      const hasBody =
        req.header('transfer-encoding') !== undefined || (length !== undefined && length.trim() !== '0');
      return hasBody ? refuse('a request body needs a Content-Type (application/json)') : null;
    }
    const type = raw.split(';', 1)[0]!.trim().toLowerCase();
    if (types.includes(type)) return null;
    if (types.includes('application/json') && /^application\/[\w.+-]+\+json$/.test(type)) return null;
    return refuse(`Content-Type ${type.slice(0, 100)} is not accepted here; send ${types.join(' or ')}`);
  };

  return {
    check(req) {
      if (SAFE.has(req.method.toUpperCase())) return { ok: true };
      const typeVerdict = mediaType(req);
      if (typeVerdict) return typeVerdict;
      const origin = req.header('origin');
      const site = req.header('sec-fetch-site')?.trim().toLowerCase();
      const listed = origin !== undefined && allowed.has(originOf(origin) ?? '');
      if (site !== undefined) {
        if (!(site === 'same-origin' || site === 'none' || (site === 'same-site' && allowSameSite) || listed))
          return refuse(`a ${site.slice(0, 20)} request (Sec-Fetch-Site) may not change anything here`);
      } else {
        const claimed = origin ?? req.header('referer');
        if (claimed !== undefined && !listed) {
          const from = originOf(claimed);
          const f = forwarded(req, trusted);
          const own = f.host === undefined ? null : originOf(`${f.proto}://${f.host}`);
          if (from === null || from !== own)
            return refuse(
              `origin ${from ?? 'null'} is not this site (${own ?? 'unknown'}) nor an allowed origin`,
            );
        }
      }
      if (double) {
        const cookie = cookieValue(req.header('cookie'), double.cookie);
        const given = req.header(double.header.toLowerCase());
        if (!cookie || !given || !sameToken(cookie, given))
          return refuse(`the ${double.header} header must repeat the ${double.cookie} cookie`);
      }
      return { ok: true };
    },
  };
}

/**
 * The 403 problem a refusal becomes (`SL_ERR_CSRF`).
 *
 * @example
 * ```ts
 * const v = csrf.check(req);
 * if (!v.ok) throw csrfError(v.reason);
 * ```
 */
export function csrfError(reason: string): StatelineError {
  return new StatelineError('SL_ERR_CSRF', reason);
}
