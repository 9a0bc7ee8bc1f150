import { StatelineError } from '../errors.js';

const cache = new Map<string, Promise<unknown>>();

/** Loads an optional peer dependency on first use; a missing one names the package to install. */
export function loadPeer<T>(name: string, purpose: string): Promise<T> {
  let loaded = cache.get(name) as Promise<T> | undefined;
  if (!loaded) {
    loaded = import(name).then(
      (mod: { default?: unknown }) => (mod.default ?? mod) as T,
      (cause: unknown) => {
        cache.delete(name);
        throw new StatelineError(
          'SL_ERR_PEER_DEPENDENCY_MISSING',
          `${purpose} needs the package "${name}": run \`npm install ${name}\``,
          { cause },
        );
      },
    );
    cache.set(name, loaded);
  }
  return loaded;
}
