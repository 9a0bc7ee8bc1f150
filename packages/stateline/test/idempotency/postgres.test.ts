import { createStore } from '../../src/store/index.js';
import { POSTGRES_URL, needService } from '../support/services.js';
import { cleanUpAfter } from '../support/cleanup.js';
import { runIdempotencyConformance } from './idempotency.case.js';

const skip = await needService('postgres');
cleanUpAfter('postgres', skip, [
  ['stateline_store', 'key'],
  ['stateline_index', 'owner'],
]);

runIdempotencyConformance({
  backend: 'postgres',
  // Small pools: the shared server has 100 connection slots for everyone.
  make: (prefix) => createStore({ type: 'postgres', url: POSTGRES_URL, prefix, poolSize: 3 }),
  skip,
});
