// PLACEHOLDER: being written; replaced before this lands.
import type { Store } from './types.js';
export async function openSqliteStore(_options: unknown): Promise<Store> {
  throw new Error('not yet written');
}
