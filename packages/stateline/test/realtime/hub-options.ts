import type { HubOptions } from '../../src/realtime/types.js';

/** Hub options of the multi-process tests: fast presence, and senders not slowed by the rate limit. */
export const HUB_OPTIONS: Omit<HubOptions, 'log' | 'bus' | 'server'> = {
  heartbeat: 300,
  pingInterval: 1000,
  rateLimit: { messages: 2000, burst: 2000 },
};
