import type { Store } from '../store/types.js';
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

/** The metrics a wrapped Store feeds, each labelled by `op`. */
export interface StoreInstruments {
  operations: Counter<'op'>;
  durations: Histogram<'op'>;
  errors: Counter<'op'>;
}

/**
 * A Store that counts and times every call of the one it wraps (`op`: the method name) and
 * counts the calls that fail; `backend` and `close` pass through.
 *
 * @example
 * ```ts
 * const store = instrumentStore(await createStore('redis://127.0.0.1:6379'), instruments);
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
    const ops = m.operations.labels(op);
    const timer = m.durations.labels(op);
    const errors = m.errors.labels(op);
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
