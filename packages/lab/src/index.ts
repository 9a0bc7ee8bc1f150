/**
 * `@stateline/lab`: run a Stateline app as a local cluster. The `stateline` command uses these;
 * they are exported for tests and tools that drive a cluster from code.
 *
 * @example
 * ```ts
 * import { startCluster } from '@stateline/lab';
 * const cluster = await startCluster({ port: 0, instances: 3, store: 'sqlite:/tmp/lab.db' });
 * await fetch(`${cluster.url}/_stateline/instances/i2/kill`, { method: 'POST' });
 * await cluster.close();
 * ```
 * @module
 */
export {
  Supervisor,
  type InstanceInfo,
  type InstanceRegistry,
  type InstanceState,
  type SupervisorOptions,
} from './supervisor.js';
/** The runtime moved to `stateline/instance`; re-exported here for code that imported it from the lab. */
export {
  failStartup,
  isMainModule,
  runInstance,
  INSTANCE_ENV,
  isSupervisorMessage as isLabMessage,
  type InstanceOptions,
  type RunningInstance,
  type SupervisorMessage as LabMessage,
} from 'stateline/instance';
export { startCluster, type Cluster } from './cluster.js';
export { ClusterHistory, HISTORY_S } from './cluster-history.js';
export type { ClusterEvent, ClusterHistoryDoc, HistorySample } from './cluster-status.js';
export {
  CLUSTER_DEFAULTS,
  OptionError,
  type BalancePolicy,
  type ClusterOptions,
  type Replication,
  type StrategyName,
} from './cluster-options.js';
export {
  LAB_ERRORS,
  SL_ERR_FORBIDDEN,
  SL_ERR_INSTANCE_FAILED,
  SL_ERR_NETNS_FAILED,
  SL_ERR_UNAUTHORIZED,
} from './errors.js';
export * from './netns/index.js';
export {
  createControl,
  clusterStatus,
  CONTROL_PREFIX,
  type ClusterStatus,
  type ControlOptions,
} from './control.js';
export * from './run/index.js';
