import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { StatelineError } from 'stateline/errors';

/**
 * The cluster dashboard the gateway serves at `/_stateline/`: a TypeScript module in `web/` that
 * Vite builds into one self-contained page (its script and style inline, nothing fetched from
 * elsewhere), `dist/dashboard/index.html`, shipped with the package. The same path from `src/`
 * and from `dist/`.
 */
export const DASHBOARD_FILE = fileURLToPath(new URL('../dist/dashboard/index.html', import.meta.url));

const SCRIPT = /<script type="module">([\s\S]*?)<\/script>/g;
const STYLE = /<style>([\s\S]*?)<\/style>/g;
/** The build marks the body for loopback access; a page for a token-guarded control API says so. */
const AUTH_LOOPBACK = '<body data-auth="loopback">';

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/** The one inline block `pattern` finds in the page, or an error naming what the build got wrong. */
function only(html: string, pattern: RegExp, what: string): string {
  const found = [...html.matchAll(pattern)];
  if (found.length !== 1) {
    throw new StatelineError(
      'SL_ERR_INTERNAL',
      `${DASHBOARD_FILE} has ${found.length} inline ${what}s, not 1`,
    );
  }
  return found[0]![1]!;
}

/** The built page and a policy that lets only its own script and style run. */
function load(): { html: string; csp: string } {
  let html: string;
  try {
    html = readFileSync(DASHBOARD_FILE, 'utf8');
  } catch {
    throw new StatelineError(
      'SL_ERR_INTERNAL',
      `the dashboard is not built (${DASHBOARD_FILE}): run npm run build:web -w @stateline/lab`,
    );
  }
  if (!html.includes(AUTH_LOOPBACK) || /\b(?:src|href)="(?!data:)/.test(html)) {
    throw new StatelineError(
      'SL_ERR_INTERNAL',
      `${DASHBOARD_FILE} is not the self-contained page web/ builds`,
    );
  }
  const csp = [
    "default-src 'none'",
    `script-src ${sha256(only(html, SCRIPT, 'script'))}`,
    `style-src ${sha256(only(html, STYLE, 'style'))}`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  return { html, csp };
}

/** A complete answer for the dashboard page. */
export interface DashboardPage {
  headers: Record<string, string>;
  body: string;
}

let built: { html: string; csp: string } | undefined;
const pages = new Map<boolean, DashboardPage>();

/**
 * The dashboard page, read from the build once. `needsToken`: the control API wants an admin
 * token, so the page asks for it (kept in the tab's sessionStorage) and sends it as a bearer
 * header with each request. Throws `SL_ERR_INTERNAL` when the page was not built.
 *
 * @example
 * ```ts
 * const page = dashboardPage(false);
 * res.writeHead(200, page.headers).end(page.body);
 * ```
 */
export function dashboardPage(needsToken: boolean): DashboardPage {
  let page = pages.get(needsToken);
  if (!page) {
    built ??= load();
    page = {
      headers: {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        'content-security-policy': built.csp,
        'referrer-policy': 'no-referrer',
        'x-content-type-options': 'nosniff',
        'x-frame-options': 'DENY',
      },
      body: needsToken ? built.html.replace(AUTH_LOOPBACK, '<body data-auth="token">') : built.html,
    };
    pages.set(needsToken, page);
  }
  return page;
}
