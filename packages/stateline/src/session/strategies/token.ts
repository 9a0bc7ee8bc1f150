import { MemoryStore } from '../../store/memory-store.js';
import { Revocations } from '../revocations.js';
import type { StrategyFactory } from '../strategy.js';
import { TokenStrategy } from '../token-strategy.js';

/**
 * `token`: the session in the cookie; the Store and the Bus carry only revocations and the list of
 * a user's sessions. Without a `store` both live in this process's memory: revocations reach the
 * other instances over the Bus only, and `list()` shows the sessions this instance issued
 * (docs/sessions.md, "token without a Store").
 */
export const openToken: StrategyFactory = async ({ o, store, bus, metrics, resources }) => {
  const shared =
    store === undefined
      ? resources.own(new MemoryStore({ maxEntries: o.maxSessions, now: o.now }))
      : await resources.store(store);
  const peers = await resources.busBeside(shared, bus, 'token sessions (revocation)');
  const revocations = resources.own(
    new Revocations(shared, peers, o.now, o.revocationSync, o.absolute, store === undefined, o.logger),
  );
  await revocations.start();
  return TokenStrategy.create(o, shared, metrics, revocations);
};
