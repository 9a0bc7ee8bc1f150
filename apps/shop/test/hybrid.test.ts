import { shopApiSuite } from './api.case.js';
import { cleanUpAfter } from '../../../packages/stateline/test/support/cleanup.js';
import { needService, REDIS_URL, uniquePrefix } from '../../../packages/stateline/test/support/services.js';

const skip = await needService('redis');
// Sessions, users, orders, idempotency records and chat history under one unique prefix.
const prefix = uniquePrefix('shop-hybrid');

shopApiSuite({
  strategy: 'hybrid',
  store: async () => (skip ? { skip } : `${REDIS_URL}?prefix=${prefix}`),
});
cleanUpAfter('redis', skip);
