import type { Bus } from '../bus/types.js';
import { StatelineError } from '../errors.js';
import type { Store } from '../store/types.js';
import type { Revocations } from './revocations.js';
import type { SessionInfo, SessionManager } from './types.js';

/**
 * Sessions kept beside the strategy's own (the token families of `stateline/tokens`): the
 * manager's `list`, `revoke` and `revokeAll` cover them too.
 */
export interface SessionFamilies {
  list(userId: string): Promise<SessionInfo[]>;
  /** Ends one by handle (with `userId`, only that user's); true when it was live. */
  revoke(handle: string, userId?: string): Promise<boolean>;
  /** Ends every one of a user; how many were live. */
  revokeAll(userId: string): Promise<number>;
}

/** What a manager lends to the components built on it. Internal: not exported by `stateline/session`. */
export interface SessionHost {
  /** The manager's Store (`sessions.store`). */
  readonly store: Store;
  /** The manager's clock. */
  readonly now: () => number;
  /** How often revocations are re-read from the Store (the manager's `revocationSync`). */
  readonly revocationSync: number;
  /** The manager's Bus: the `bus` option, opened on first use and closed with the manager. */
  bus(beside: Store): Promise<Bus>;
  /**
   * The manager's revocations: the strategy's own (`token`, `memory`), else one opened on first use
   * on the manager's Store and Bus and closed with the manager. One per manager, shared.
   */
  revocations(): Promise<Revocations>;
  /** Adds sessions the manager lists and revokes; the returned function removes them. */
  attach(families: SessionFamilies): () => void;
}

/** The key under which a manager made by `createSessions` carries its host. */
export const HOST = Symbol.for('stateline.session-host');

/**
 * The host of a manager made by `createSessions`.
 *
 * @example
 * ```ts
 * const host = hostOf(sessions);
 * const revocations = await host.revocations();
 * ```
 */
export function hostOf(sessions: SessionManager): SessionHost {
  const host = (sessions as Partial<Record<typeof HOST, SessionHost>> | null)?.[HOST];
  if (!host)
    throw new StatelineError('SL_ERR_INVALID_OPTION', 'sessions must be a manager made by createSessions');
  return host;
}
