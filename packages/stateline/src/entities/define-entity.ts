import { StatelineError } from '../errors.js';
import type { EntityDefinition, EntityOptions } from './types.js';

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * Defines an entity type: its initial state, its handlers (run one at a time per key) and how often
 * its state is snapshotted.
 *
 * @example
 * ```ts
 * const Counter = defineEntity('counter', {
 *   initial: () => ({ n: 0 }),
 *   handlers: {
 *     add(state, args: { by: number }) { state.n += args.by; return state.n; },
 *     get: { read: true, run: (state) => state.n },
 *   },
 *   snapshotEvery: 50,
 * });
 * ```
 */
export function defineEntity<S>(type: string, options: EntityOptions<S>): EntityDefinition<S> {
  if (!NAME.test(type))
    throw new StatelineError(
      'SL_ERR_INVALID_ARGUMENT',
      `entity type must match ${NAME} (got ${JSON.stringify(type)})`,
    );
  for (const method of Object.keys(options.handlers)) {
    if (!NAME.test(method))
      throw new StatelineError(
        'SL_ERR_INVALID_ARGUMENT',
        `handler name must match ${NAME} (got ${JSON.stringify(method)})`,
      );
  }
  const snapshotEvery = options.snapshotEvery ?? 100;
  if (!Number.isInteger(snapshotEvery) || snapshotEvery <= 0)
    throw new StatelineError(
      'SL_ERR_INVALID_OPTION',
      `snapshotEvery must be a positive integer (got ${snapshotEvery})`,
    );
  return Object.freeze({
    type,
    initial: options.initial,
    handlers: Object.freeze({ ...options.handlers }),
    snapshotEvery,
  });
}
