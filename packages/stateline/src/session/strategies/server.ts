import { RecordStrategy } from '../record-strategy.js';
import { DEFAULT_STORE } from '../resources.js';
import type { StrategyFactory } from '../strategy.js';

/** `server`: a record per session in the Store (default: the embedded SQLite file); no Bus. */
export const openServer: StrategyFactory = async ({ o, store, metrics, resources }) =>
  new RecordStrategy({ o, metrics, store: await resources.store(store ?? DEFAULT_STORE) });
