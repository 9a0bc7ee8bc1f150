/**
 * Must show 1: the multi-instance scenario on a shared Redis (Streams Log + pub/sub Bus), with
 * and without an instance SIGKILLed mid-stream. Keys live under a unique prefix, deleted after.
 */
import { after } from 'node:test';
import { createClient } from 'redis';
import { REDIS_URL, needService, uniquePrefix } from '../support/services.js';
import { HUB_OPTIONS } from './hub-options.js';
import { runMultiInstance } from './multi-instance.case.js';

const skip = await needService('redis');
const prefixes: string[] = [];

runMultiInstance(
  'redis',
  () => ({
    config: () => {
      const prefix = uniquePrefix('rt');
      prefixes.push(prefix);
      return {
        log: { type: 'redis', url: REDIS_URL, prefix },
        bus: { type: 'redis', url: REDIS_URL, prefix },
        hub: HUB_OPTIONS,
      };
    },
  }),
  skip,
);

after(async () => {
  if (skip || prefixes.length === 0) return;
  const redis = createClient({ url: REDIS_URL });
  redis.on('error', () => {});
  await redis.connect();
  for (const prefix of prefixes) {
    for await (const keys of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 }))
      if (keys.length) await redis.del(keys);
  }
  await redis.close();
});
