/** The multi-process entity suite with its Log on NATS JetStream (fenced optimistic appends) and leases in Redis. */
import { cleanUpAfter } from '../support/cleanup.js';
import { cleanUpNatsAfter } from '../support/nats-cleanup.js';
import { NATS_URL, REDIS_URL, needService, uniquePrefix } from '../support/services.js';
import { runEntityFleet } from './fleet.case.js';

const skip = (await needService('nats')) || (await needService('redis'));
cleanUpAfter('redis', skip);
cleanUpNatsAfter(skip);

runEntityFleet({
  backend: 'nats',
  skip,
  specs: () => {
    const prefix = uniquePrefix('entities-nats');
    return {
      store: { type: 'redis', url: REDIS_URL, prefix },
      log: { type: 'nats', url: NATS_URL, prefix, retention: { maxCount: 100_000 } },
    };
  },
});
