import { StatelineError } from '../errors.js';
import { parseBackendSpec } from './backend-spec.js';
import { rejectUnknown } from './spec.js';

/** What every backend's options have. */
interface BaseOptions {
  type: string;
  timeout?: number;
}

/** A family's options keyed by their `type`: `{ memory: MemoryStoreOptions; sqlite: … }`. */
export type ByType<O extends BaseOptions> = { [X in O as X['type']]: X };

/** One backend of a family: its own option keys and how it opens (its driver imported on first use). */
export interface Backend<O, T> {
  options: readonly string[];
  open(options: O): T | Promise<T>;
}

/**
 * Stores, Buses or Logs: the backends `createStore`, `createBus` and `createLog` choose from by
 * the `type` of their options (or the scheme of a spec string). Adding a backend to a family is
 * one entry here plus its file.
 */
export interface BackendFamily<M extends Record<string, BaseOptions>, T> {
  /** Names the family in errors: `store`, `bus`, `log`. */
  what: string;
  /** Option keys every backend of the family takes besides `type`, `prefix`, `timeout` and `logger`. */
  common?: readonly string[];
  backends: { [K in keyof M]: Backend<M[K], T> };
  /** Checks of the family's own (e.g. a Log's retention). */
  check?(options: M[keyof M]): void;
}

const COMMON = ['type', 'prefix', 'timeout', 'logger'];

function isType<M extends Record<string, BaseOptions>>(
  family: BackendFamily<M, unknown>,
  type: unknown,
): type is keyof M {
  return typeof type === 'string' && Object.hasOwn(family.backends, type);
}

/** Turns a spec string into the options object it stands for; an options object is returned as is. */
export function optionsFromSpec<M extends Record<string, BaseOptions>>(
  family: BackendFamily<M, unknown>,
  spec: string | M[keyof M],
): M[keyof M] {
  if (typeof spec !== 'string') return spec;
  const { target, ...rest } = parseBackendSpec(spec, family.what, Object.keys(family.backends));
  // parseBackendSpec only names a backend of the family, with the options every one of them takes.
  return { ...target, ...rest } as M[keyof M];
}

function openAs<M extends Record<string, BaseOptions>, K extends keyof M, T>(
  backends: { [P in keyof M]: Backend<M[P], T> },
  type: K,
  options: M[K],
): T | Promise<T> {
  return backends[type].open(options);
}

/**
 * Opens the backend a spec or options object names, after checking its options: an unknown
 * `type` is `SL_ERR_INVALID_SPEC`; an unknown key or a `timeout` that is not a positive number
 * of ms is `SL_ERR_INVALID_OPTION`.
 */
export async function openBackend<M extends Record<string, BaseOptions>, T>(
  family: BackendFamily<M, T>,
  spec: string | M[keyof M],
): Promise<T> {
  const options = optionsFromSpec(family, spec);
  const type: unknown = typeof options === 'object' && options !== null ? options.type : undefined;
  if (!isType(family, type)) {
    throw new StatelineError(
      'SL_ERR_INVALID_SPEC',
      `${family.what} type must be one of ${Object.keys(family.backends).join(', ')}`,
    );
  }
  const backend = family.backends[type];
  rejectUnknown(
    options,
    [...COMMON, ...(family.common ?? []), ...backend.options],
    `${String(type)} ${family.what}`,
  );
  if (options.timeout !== undefined && !(Number.isFinite(options.timeout) && options.timeout > 0)) {
    throw new StatelineError(
      'SL_ERR_INVALID_OPTION',
      `${family.what} timeout must be a positive number of ms`,
    );
  }
  family.check?.(options);
  return openAs(family.backends, type, options);
}
