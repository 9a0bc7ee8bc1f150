import { busOptionsFromSpec, createBus } from '../bus/index.js';
import { StatelineError } from '../errors.js';
import type { Bus, BusSpec } from '../bus/types.js';
import type { Logger } from '../logger.js';
import { createStore, storeOptionsFromSpec } from '../store/index.js';
import type { Store, StoreSpec } from '../store/types.js';

/** Where `server`, `hybrid` and `token` keep their records when no `store` is given. */
export const DEFAULT_STORE = 'sqlite:.stateline/state.db';

interface Closable {
  close(): Promise<void>;
}

function isStore(x: StoreSpec | Store): x is Store {
  return (
    typeof x === 'object' &&
    x !== null &&
    'get' in x &&
    typeof x.get === 'function' &&
    typeof x.update === 'function'
  );
}

function isBus(x: BusSpec | Bus): x is Bus {
  return typeof x === 'object' && x !== null && 'publish' in x && typeof x.publish === 'function';
}

/**
 * What one manager opened, closed last-opened first when the manager closes (or when building its
 * strategy failed half-way). A Store or Bus the caller passed in is used as it is and never closed:
 * its owner closes it.
 */
export class Resources {
  private readonly owned: Closable[] = [];

  /** `logger` goes to every Store and Bus opened here from a spec. */
  constructor(private readonly logger?: Logger) {}

  /** Closes `x` with the manager; returns it. */
  own<T extends Closable>(x: T): T {
    this.owned.push(x);
    return x;
  }

  /** The caller's Store, or one opened from a spec. */
  async store(given: StoreSpec | Store): Promise<Store> {
    if (isStore(given)) return given;
    const spec = this.logger ? { ...storeOptionsFromSpec(given), logger: this.logger } : given;
    return this.own(await createStore(spec));
  }

  /** The caller's Bus, or one opened from a spec. */
  async bus(given: BusSpec | Bus): Promise<Bus> {
    if (isBus(given)) return given;
    const spec = this.logger ? { ...busOptionsFromSpec(given), logger: this.logger } : given;
    return this.own(await createBus(spec));
  }

  /**
   * The Bus a strategy needs beside `store`: the caller's, else a process-local `memory:` one,
   * except beside memcached, which has no pub/sub for the local default to stand in for: there a
   * missing `bus` fails at start-up with what to set.
   */
  async busBeside(store: Store, given: BusSpec | Bus | undefined, needs: string): Promise<Bus> {
    if (given === undefined && store.backend === 'memcached') {
      throw new StatelineError(
        'SL_ERR_INVALID_OPTION',
        `${needs} needs a bus and memcached has none (no pub/sub): set the bus option to ipc:, redis://… or postgres://…`,
      );
    }
    return this.bus(given ?? 'memory:');
  }

  async close(): Promise<void> {
    for (const x of this.owned.splice(0).reverse()) await x.close().catch(() => {});
  }
}
