import { DEFAULT_STORE } from '../resources.js';
import { Revocations } from '../revocations.js';
import type { StrategyFactory } from '../strategy.js';
import { TokenStrategy } from '../token-strategy.js';

/** `token`: the session in the cookie; the Store and the Bus carry only revocations and the list of a user's sessions. */
export const openToken: StrategyFactory = async ({ o, store, bus, metrics, resources }) => {
  const shared = await resources.store(store ?? DEFAULT_STORE);
  const peers = await resources.busBeside(shared, bus, 'token sessions (revocation)');
  const revocations = resources.own(new Revocations(shared, peers, o.now, o.revocationSync, o.absolute));
  await revocations.start();
  return TokenStrategy.create(o, shared, metrics, revocations);
};
