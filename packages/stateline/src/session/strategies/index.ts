import type { StrategyFactory } from '../strategy.js';
import type { SessionStrategyName } from '../types.js';
import { openHybrid } from './hybrid.js';
import { openMemory } from './memory.js';
import { openServer } from './server.js';
import { openToken } from './token.js';

/** Every strategy's factory by name: the one place a new strategy is added. */
export const STRATEGIES: Record<SessionStrategyName, StrategyFactory> = {
  server: openServer,
  hybrid: openHybrid,
  memory: openMemory,
  token: openToken,
};
