import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { OptionError } from '../cluster-options.js';

/** The shop's server module, as its package exports it. */
export const SHOP_SERVER = '@stateline/shop/server';

/**
 * The app the lab runs when `--app` is not given: the reference shop, resolved when the lab runs
 * (the lab does not depend on the shop; the shop depends on the lab). Throws an
 * {@link OptionError} with one line asking for `--app` when it cannot be found.
 *
 * @example
 * ```ts
 * const app = defaultLabApp(); // '/…/apps/shop/dist/server.js'
 * ```
 */
export function defaultLabApp(
  resolve: (specifier: string) => string = (s) => import.meta.resolve(s),
): string {
  let path: string | undefined;
  try {
    path = fileURLToPath(resolve(SHOP_SERVER));
  } catch {
    path = undefined;
  }
  if (!path || !existsSync(path))
    throw new OptionError(
      `cannot find the shop (${SHOP_SERVER}${path ? ` at ${path}: run npm run build` : ' is not installed'}); pass the app to measure with --app <module>`,
    );
  return path;
}
