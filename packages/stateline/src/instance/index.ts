export type * from './workload.js';
