import type { DefinedError } from '../errors.js';

/** What a code means, and the constructor `defineError` made for it (none for the library's own). */
export interface RegistryEntry {
  readonly status: number;
  readonly message: string;
  readonly defined?: DefinedError;
}

/**
 * Every code this copy of Stateline knows, by code: the library's catalogue first, then each
 * `defineError`. `StatelineError` takes its status and message from here, `problemFor` its title.
 */
export const REGISTRY = new Map<string, RegistryEntry>();
