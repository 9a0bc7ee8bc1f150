import { createStore } from '../../src/store/index.js';
import { REDIS_URL, needService } from '../support/services.js';
import { runIdempotencyConformance } from './idempotency.case.js';

runIdempotencyConformance({
  backend: 'redis',
  make: (prefix) => createStore({ type: 'redis', url: REDIS_URL, prefix }),
  skip: await needService('redis'),
});
