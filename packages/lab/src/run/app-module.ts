import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OptionError, parseApp } from '../cluster-options.js';

/** The environment variable naming the app module when `--app` is not given. */
export const APP_ENV = 'STATELINE_APP';

/** Where {@link resolveApp} looks. */
export interface ResolveAppOptions {
  /** Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** The directory whose `package.json` may name the app; default `process.cwd()`. */
  cwd?: string;
}

/** The `stateline.app` field of `<cwd>/package.json`, or undefined. */
function packageApp(cwd: string): string | undefined {
  const file = join(cwd, 'package.json');
  if (!existsSync(file)) return undefined;
  let pkg: unknown;
  try {
    pkg = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    throw new OptionError(`cannot read ${file} as JSON; pass the app with --app <module>`);
  }
  if (typeof pkg !== 'object' || pkg === null || !('stateline' in pkg)) return undefined;
  const field = pkg.stateline;
  if (typeof field !== 'object' || field === null || !('app' in field)) return undefined;
  if (typeof field.app !== 'string' || field.app === '')
    throw new OptionError(`"stateline.app" in ${file} must be a module path`);
  return field.app;
}

/**
 * The app module `stateline up` and `stateline lab` run when `--app` is not given: the file named
 * by `STATELINE_APP`, else by the `stateline.app` field of the working directory's
 * `package.json` (both relative to that directory). Throws an {@link OptionError} with one line
 * saying what to pass when neither names an existing module.
 *
 * @example
 * ```ts
 * // package.json: { "stateline": { "app": "dist/server.js" } }
 * resolveApp(); // '/home/me/shop/dist/server.js'
 * ```
 */
export function resolveApp(o: ResolveAppOptions = {}): string {
  const env = o.env ?? process.env;
  const cwd = o.cwd ?? process.cwd();
  const fromEnv = env[APP_ENV];
  const named = fromEnv ? { by: APP_ENV, path: fromEnv } : undefined;
  const fromPackage = named ? undefined : packageApp(cwd);
  const source = named ?? (fromPackage ? { by: '"stateline.app" in package.json', path: fromPackage } : null);
  if (!source)
    throw new OptionError(
      `no app to run: pass --app <module>, set ${APP_ENV}, or add "stateline": { "app": "<module>" } to ${join(cwd, 'package.json')}`,
    );
  try {
    return parseApp(source.path, cwd);
  } catch (err) {
    const why = err instanceof Error ? err.message.replace(/^--app: /, '') : String(err);
    throw new OptionError(`${source.by}: ${why} (build it, or pass another with --app <module>)`);
  }
}
