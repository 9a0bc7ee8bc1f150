import { createStore } from '../../src/store/index.js';
import { REDIS_URL, needService } from '../support/services.js';
import { cleanUpAfter } from '../support/cleanup.js';
import { runIdempotencyConformance } from './idempotency.case.js';

const skip = await needService('redis');
cleanUpAfter('redis', skip);

runIdempotencyConformance({
  backend: 'redis',
  make: (prefix) => createStore({ type: 'redis', url: REDIS_URL, prefix }),
  skip,
});
