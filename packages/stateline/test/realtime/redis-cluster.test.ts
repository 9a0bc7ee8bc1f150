/**
 * Must show 6 (Redis Cluster part): the multi-instance scenario with the Log and the Bus both on a
 * 3-master Redis Cluster (hash-tagged Streams, sharded pub/sub), with and without an instance
 * SIGKILLed mid-stream. The cluster is this file's own and is stopped afterwards.
 */
import { clusterForFile } from '../support/redis-server.js';
import { uniquePrefix } from '../support/services.js';
import { HUB_OPTIONS } from './hub-options.js';
import { runMultiInstance } from './multi-instance.case.js';

const { skip, cluster } = await clusterForFile('realtime redis-cluster');

runMultiInstance(
  'redis-cluster',
  () => ({
    config: () => {
      const prefix = uniquePrefix('rt');
      return {
        log: { type: 'redis-cluster', nodes: cluster!.urls, prefix },
        bus: { type: 'redis-cluster', nodes: cluster!.urls, prefix },
        hub: HUB_OPTIONS,
      };
    },
  }),
  skip,
);
