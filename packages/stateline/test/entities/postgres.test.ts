import { cleanUpAfter } from '../support/cleanup.js';
import { POSTGRES_URL, needService, uniquePrefix } from '../support/services.js';
import { runEntityFleet } from './fleet.case.js';

const skip = await needService('postgres');
cleanUpAfter('postgres', skip, [
  ['stateline_store', 'key'],
  ['stateline_log', 'stream'],
  ['stateline_log_key', 'stream'],
  ['stateline_log_meta', 'stream'],
  ['stateline_log_fence', 'stream'],
]);

runEntityFleet({
  backend: 'postgres',
  skip,
  specs: () => {
    const prefix = uniquePrefix('entities-pg');
    return {
      store: { type: 'postgres', url: POSTGRES_URL, prefix },
      log: { type: 'postgres', url: POSTGRES_URL, prefix },
    };
  },
});
