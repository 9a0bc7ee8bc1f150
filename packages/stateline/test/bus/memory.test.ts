import { createBus } from '../../src/bus/index.js';
import { runBusConformance } from './bus.case.js';

runBusConformance({ backend: 'memory', make: (prefix) => createBus({ type: 'memory', prefix }) });
