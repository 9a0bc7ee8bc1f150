/**
 * Must show 6 (NATS part): the multi-instance scenario on the machine's NATS (JetStream Log + core
 * NATS Bus), with and without an instance SIGKILLed mid-stream. Streams and subjects live under a
 * unique prefix; the streams are deleted after the file.
 */
import { NATS_URL, needService, uniquePrefix } from '../support/services.js';
import { cleanUpNatsAfter } from '../support/nats-cleanup.js';
import { HUB_OPTIONS } from './hub-options.js';
import { runMultiInstance } from './multi-instance.case.js';

const skip = await needService('nats');

cleanUpNatsAfter(skip);

runMultiInstance(
  'nats',
  () => ({
    config: () => {
      const prefix = uniquePrefix('rt');
      return {
        log: { type: 'nats', url: NATS_URL, prefix },
        bus: { type: 'nats', url: NATS_URL, prefix },
        hub: HUB_OPTIONS,
      };
    },
  }),
  skip,
);
