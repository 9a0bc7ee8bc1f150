import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * True when the module at `moduleUrl` is the script node was started with (`node app.js`, or an
 * instance a supervisor forked), so an app module can both export its pieces and run itself.
 *
 * @example
 * ```ts
 * if (isMainModule(import.meta.url)) await runInstance(app.handler);
 * ```
 */
export function isMainModule(moduleUrl: string): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    return false;
  }
}
