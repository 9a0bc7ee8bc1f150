import { cleanUpAfter } from '../support/cleanup.js';
import { REDIS_URL, needService, uniquePrefix } from '../support/services.js';
import { runEntityFleet } from './fleet.case.js';

const skip = await needService('redis');
cleanUpAfter('redis', skip);

runEntityFleet({
  backend: 'redis',
  skip,
  specs: () => {
    const prefix = uniquePrefix('entities-redis');
    return {
      store: { type: 'redis', url: REDIS_URL, prefix },
      log: { type: 'redis', url: REDIS_URL, prefix },
    };
  },
});
