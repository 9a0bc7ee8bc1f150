import { createLog } from '../../src/log/index.js';
import { runLogConformance } from './log.case.js';

runLogConformance({
  backend: 'memory',
  make: (prefix, retention) => createLog({ type: 'memory', prefix, ...(retention ? { retention } : {}) }),
  perObjectState: 'a memory log keeps its streams in the object itself; there are no connections to race through',
});
