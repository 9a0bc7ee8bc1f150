export {
  NETNS_PREFIX,
  NetTopology,
  removeStaleNamespaces,
  type NetHost,
  type NetTopologyOptions,
} from './topology.js';
export { NetFaults, impairUnavailable, type Impairment } from './net-faults.js';
export { netnsUnavailable } from './privilege.js';
export { run as runCommand, runIn as runInNamespace } from './ip-command.js';
export { LAB_NETNS_ENV, labTopology, runLabInNetns } from './lab-network.js';
