import { createBus } from '../../src/bus/index.js';
import { sentinelForFile } from '../support/redis-sentinel.js';
import { runBusConformance } from './bus.case.js';

const { skip, set } = await sentinelForFile('redis-sentinel bus');

runBusConformance({
  backend: 'redis-sentinel',
  skip,
  make: (prefix) => createBus(set!.spec(`?prefix=${encodeURIComponent(prefix)}`)),
});
