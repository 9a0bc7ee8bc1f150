import { createBus } from '../../src/bus/index.js';
import { createLog } from '../../src/log/index.js';
import { sentinelForFile } from '../support/redis-sentinel.js';
import { runLogConformance } from './log.case.js';

const { skip, set } = await sentinelForFile('redis-sentinel log');

runLogConformance({
  backend: 'redis-sentinel',
  skip,
  make: (prefix, retention) =>
    createLog({
      type: 'redis-sentinel',
      sentinels: set!.sentinels,
      name: set!.name,
      prefix,
      ...(retention ? { retention } : {}),
    }),
  bus: (prefix) => createBus({ type: 'redis-sentinel', sentinels: set!.sentinels, name: set!.name, prefix }),
  publishes: false,
});
