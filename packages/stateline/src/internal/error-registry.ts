/** What a code means: its HTTP status and the message (a problem's title) every error with it starts with. */
export interface RegistryEntry {
  readonly status: number;
  readonly message: string;
}

/**
 * Every code this copy of Stateline knows, by code: the library's catalogue first, then each
 * `defineError`. `StatelineError` takes its status and message from here, `problemFor` its title.
 */
export const REGISTRY = new Map<string, RegistryEntry>();
