import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fail } from './http-error.js';
import { SL_ERR_NOT_FOUND } from 'stateline/http';

/** Where Vite puts the web UI: `apps/shop/dist/public` (the same from `src/` and from `dist/`). */
export const PUBLIC_DIR = fileURLToPath(new URL('../dist/public/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/** A browser navigation names `text/html`; a bare wildcard Accept (curl, fetch) does not ask for the page. */
function acceptsHtml(req: IncomingMessage): boolean {
  return (req.headers.accept ?? '').includes('text/html');
}

async function fileAt(root: string, path: string): Promise<{ file: string; size: number } | null> {
  let rel: string;
  try {
    rel = decodeURIComponent(path);
  } catch {
    return null;
  }
  if (rel.includes('\0')) return null;
  const file = normalize(join(root, rel));
  if (!file.startsWith(root.endsWith(sep) ? root : root + sep)) return null;
  try {
    const s = await stat(file);
    return s.isFile() ? { file, size: s.size } : null;
  } catch {
    return null;
  }
}

function stream(req: IncomingMessage, res: ServerResponse, file: string, size: number, cache: string): void {
  res.writeHead(200, {
    'content-type': TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
    'content-length': String(size),
    'cache-control': cache,
    'x-content-type-options': 'nosniff',
  });
  if (req.method === 'HEAD') return void res.end();
  createReadStream(file)
    .on('error', () => res.destroy())
    .pipe(res);
}

/**
 * Serves the built web UI for GET/HEAD: `/` and unknown paths that accept HTML get `index.html`
 * (`no-cache`, so a new build is seen at once); `/assets/*` are Vite's hashed files (cached for a
 * year, immutable); other files in the folder are served `no-cache`.
 *
 * @example
 * ```ts
 * const route = await serveStatic(req, res, '/assets/index-abc123.js');
 * ```
 */
export async function serveStatic(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  root = PUBLIC_DIR,
): Promise<void> {
  if (path.startsWith('/assets/')) {
    const found = await fileAt(root, path);
    if (!found) fail(SL_ERR_NOT_FOUND, 'no such asset');
    return stream(req, res, found.file, found.size, 'public, max-age=31536000, immutable');
  }
  if (path !== '/' && path !== '/index.html') {
    const found = await fileAt(root, path);
    if (found) return stream(req, res, found.file, found.size, 'no-cache');
    if (!acceptsHtml(req)) fail(SL_ERR_NOT_FOUND, 'no such file');
  }
  const index = await fileAt(root, '/index.html');
  if (!index) fail(SL_ERR_NOT_FOUND, 'the web UI is not built (npm run build)');
  stream(req, res, index.file, index.size, 'no-cache');
}
