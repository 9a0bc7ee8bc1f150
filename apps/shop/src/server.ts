import { failStartup, isMainModule, runInstance } from 'stateline/instance';
import { entityWorkload } from './entity-workload.js';
import { createShop } from './shop.js';

export { createShop, type Shop } from './shop.js';
export { PRODUCTS, type Product } from './catalog.js';
// What `stateline lab` drives: the shop's shoppers and what a right answer is.
export { workload } from './workload.js';
// `stateline lab --configs entities`: the drop and the shared list under an owner kill.
export const workloads = { entities: entityWorkload };

if (isMainModule(import.meta.url)) {
  // A Store that cannot be reached ends the process with one line, not a stack.
  const shop = await createShop().catch(failStartup);
  const instance = await runInstance(shop.handler, { ready: shop.ready, close: shop.close });
  instance.server.on('upgrade', shop.upgrade);
  await shop.listening(instance.url).catch(failStartup);
}
