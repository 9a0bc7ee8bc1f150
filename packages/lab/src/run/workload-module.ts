import { pathToFileURL } from 'node:url';
import type { Workload, WorkloadAction } from 'stateline/instance';
import { OptionError } from '../cluster-options.js';

const TYPESCRIPT = /\.(c|m)?tsx?$/;

/** Imports the app module here, in the lab's process; a TypeScript one through tsx when needed. */
async function importApp(app: string): Promise<unknown> {
  const url = pathToFileURL(app).href;
  try {
    return await import(url);
  } catch (err) {
    const code = err instanceof Error && 'code' in err ? err.code : undefined;
    if (!TYPESCRIPT.test(app) || code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw err;
  }
  let tsImport: (specifier: string, parentUrl: string) => Promise<unknown>;
  try {
    ({ tsImport } = await import('tsx/esm/api'));
  } catch {
    throw new OptionError(`${app} is TypeScript: install tsx (npm install -D tsx) or build it to JavaScript`);
  }
  return tsImport(url, import.meta.url);
}

function isAction(v: unknown): v is WorkloadAction<unknown> {
  return (
    typeof v === 'object' &&
    v !== null &&
    'name' in v &&
    typeof v.name === 'string' &&
    'weight' in v &&
    typeof v.weight === 'number' &&
    Number.isFinite(v.weight) &&
    v.weight > 0 &&
    'run' in v &&
    typeof v.run === 'function'
  );
}

/** Null when `v` has the shape of a {@link Workload}, else what is wrong with it. */
function workloadProblem(v: unknown): string | null {
  if (typeof v !== 'object' || v === null) return 'is not an object';
  if (!('init' in v) || typeof v.init !== 'function') return 'has no init(user)';
  if (!('actions' in v) || !Array.isArray(v.actions) || v.actions.length === 0) return 'has no actions';
  if (!v.actions.every(isAction)) return 'has an action without a name, a weight above 0 or run()';
  if (
    'credentials' in v &&
    v.credentials !== undefined &&
    (!Array.isArray(v.credentials) ||
      v.credentials.length === 0 ||
      !v.credentials.every((c) => c === 'cookie' || c === 'bearer'))
  )
    return 'has credentials that are not a non-empty list of cookie, bearer';
  if ('env' in v && v.env !== undefined && typeof v.env !== 'function')
    return 'has an env that is not a function';
  if ('prepare' in v && v.prepare !== undefined && typeof v.prepare !== 'function')
    return 'has a prepare that is not a function';
  const fields = v as Record<string, unknown>;
  for (const hook of ['audit', 'victim', 'verify'])
    if (fields[hook] !== undefined && typeof fields[hook] !== 'function')
      return `has a${hook === 'audit' ? 'n' : ''} ${hook} that is not a function`;
  return null;
}

function isWorkload(v: unknown): v is Workload<unknown> {
  return workloadProblem(v) === null;
}

/**
 * The `workload` an app module exports (see `stateline/instance`), for `stateline lab` to drive,
 * or with `name` the one it exports as `workloads[name]` (an `entities` config). The module is
 * imported in the calling process, so it must start its server only when it is the main module
 * (`isMainModule(import.meta.url)`). Throws an {@link OptionError} with one line when the module
 * exports no such workload or a malformed one.
 *
 * @example
 * ```ts
 * const workload = await loadWorkload('/home/me/shop/dist/server.js');
 * workload.actions.map((a) => a.name); // ['browse', 'add', …]
 * const entities = await loadWorkload('/home/me/shop/dist/server.js', 'entities');
 * ```
 */
export async function loadWorkload(app: string, name?: string): Promise<Workload<unknown>> {
  let mod: unknown;
  try {
    mod = await importApp(app);
  } catch (err) {
    if (err instanceof OptionError) throw err;
    throw new Error(
      `cannot load ${app} to read its workload: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  const exported = (key: string): unknown =>
    typeof mod === 'object' && mod !== null && key in mod ? (mod as Record<string, unknown>)[key] : undefined;
  if (name !== undefined) {
    const all = exported('workloads');
    const named =
      typeof all === 'object' && all !== null && Object.hasOwn(all, name)
        ? (all as Record<string, unknown>)[name]
        : undefined;
    if (named === undefined)
      throw new OptionError(
        `${app} exports no workloads.${name}, so the lab cannot run the ${name} config: export one (docs/lab.md, "Writing a workload")`,
      );
    if (!isWorkload(named)) throw new OptionError(`${app}: its workloads.${name} ${workloadProblem(named)}`);
    return named;
  }
  const workload = exported('workload');
  if (workload === undefined)
    throw new OptionError(
      `${app} exports no workload, so the lab cannot drive it: export one (docs/lab.md, "Writing a workload")`,
    );
  if (!isWorkload(workload)) throw new OptionError(`${app}: its workload ${workloadProblem(workload)}`);
  return workload;
}
