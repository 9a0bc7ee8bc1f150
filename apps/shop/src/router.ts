import type { IncomingMessage, ServerResponse } from 'node:http';

/** Path parameters of a matched route, e.g. `{ id: 'mug' }` for `/api/products/:id`. */
export type Params = Record<string, string>;

/** A route handler; `req` may carry more than `IncomingMessage` (the session, for session routes). */
export type RouteHandler<Req extends IncomingMessage = IncomingMessage> = (
  req: Req,
  res: ServerResponse,
  params: Params,
) => unknown;

/** What a request matched: the route's pattern (the metrics label) and, if the method fits, its entry. */
export type Match<T> =
  | { kind: 'route'; pattern: string; params: Params; entry: T }
  | { kind: 'method'; pattern: string; allow: string[] }
  | { kind: 'none' };

interface Compiled<T> {
  pattern: string;
  parts: string[];
  byMethod: Map<string, T>;
}

/**
 * A small route table: `/`-separated patterns with `:name` segments, one entry per method. The
 * match names the pattern (never the raw path), so metrics and logs stay low-cardinality.
 *
 * @example
 * ```ts
 * const routes = new Router<Handler>().on('GET', '/api/products/:id', getProduct);
 * const m = routes.match('GET', '/api/products/mug'); // { kind: 'route', pattern: '/api/products/:id', params: { id: 'mug' } }
 * ```
 */
export class Router<T> {
  private readonly routes: Compiled<T>[] = [];

  /** Adds `entry` for `method` (upper case) on `pattern`. */
  on(method: string, pattern: string, entry: T): this {
    let r = this.routes.find((x) => x.pattern === pattern);
    if (!r) {
      r = { pattern, parts: pattern.split('/'), byMethod: new Map() };
      this.routes.push(r);
    }
    r.byMethod.set(method, entry);
    return this;
  }

  /** Finds the route of a path; `HEAD` falls back to `GET`. */
  match(method: string, path: string): Match<T> {
    const parts = path.split('/');
    for (const r of this.routes) {
      const params = matchParts(r.parts, parts);
      if (!params) continue;
      const entry = r.byMethod.get(method) ?? (method === 'HEAD' ? r.byMethod.get('GET') : undefined);
      if (entry !== undefined) return { kind: 'route', pattern: r.pattern, params, entry };
      const allow = [...r.byMethod.keys()];
      if (allow.includes('GET')) allow.push('HEAD');
      return { kind: 'method', pattern: r.pattern, allow };
    }
    return { kind: 'none' };
  }
}

function matchParts(pattern: string[], path: string[]): Params | null {
  if (pattern.length !== path.length) return null;
  const params: Params = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    const v = path[i]!;
    if (p.startsWith(':')) {
      if (v === '') return null;
      let decoded: string;
      try {
        decoded = decodeURIComponent(v);
      } catch {
        return null;
      }
      params[p.slice(1)] = decoded;
    } else if (p !== v) return null;
  }
  return params;
}
