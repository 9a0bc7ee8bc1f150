import type { Store } from 'stateline/store';
import type { Counter, Histogram } from 'prom-client';

/** The Store methods that reach the backend (all but `backend` and `close`). */
const OPS = [
  'get',
  'create',
  'update',
  'delete',
  'touch',
  'indexAdd',
  'indexMembers',
  'indexRemove',
] as const satisfies readonly (keyof Store)[];

/** The metrics a wrapped Store feeds. */
export interface StoreInstruments {
  storeOps: Counter<'op'>;
  storeDurations: Histogram<'op'>;
  storeErrors: Counter<'op'>;
}

/**
 * A Store that counts and times every call of the one it wraps (`op` label: the method name), and
 * counts the calls that fail. Everything else passes through unchanged.
 *
 * @example
 * ```ts
 * const store = instrumentStore(await createStore(spec), metrics);
 * const sessions = await createSessions({ strategy: 'server', store, keys });
 * ```
 */
export function instrumentStore(inner: Store, m: StoreInstruments): Store {
  const wrapped: Record<string, unknown> = {
    get backend() {
      return inner.backend;
    },
    close: () => inner.close(),
  };
  for (const op of OPS) {
    const method = (inner[op] as (...a: unknown[]) => Promise<unknown>).bind(inner);
    const ops = m.storeOps.labels(op);
    const timer = m.storeDurations.labels(op);
    const errors = m.storeErrors.labels(op);
    wrapped[op] = async (...args: unknown[]) => {
      ops.inc();
      const end = timer.startTimer();
      try {
        return await method(...args);
      } catch (err) {
        errors.inc();
        throw err;
      } finally {
        end();
      }
    };
  }
  return wrapped as unknown as Store;
}
