import { NearCacheStore } from '../../store/decorators/near-cache-store.js';
import { RecordStrategy } from '../record-strategy.js';
import { DEFAULT_STORE } from '../resources.js';
import { readThrough, type StrategyFactory } from '../strategy.js';

/** `hybrid`: records in the Store, read through a near cache that the Bus invalidates. */
export const openHybrid: StrategyFactory = async ({ o, store, bus, metrics, resources }) => {
  const shared = await resources.store(store ?? DEFAULT_STORE);
  const invalidations = await resources.busBeside(shared, bus, 'hybrid sessions (near-cache invalidation)');
  const near = resources.own(
    await NearCacheStore.open(shared, invalidations, { size: o.cacheSize, now: o.now }),
  );
  readThrough(metrics, { nearCacheHits: () => near.hits, nearCacheMisses: () => near.misses });
  return new RecordStrategy({ o, metrics, store: near, near }, shared);
};
