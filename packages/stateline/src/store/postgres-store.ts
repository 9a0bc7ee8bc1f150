// PLACEHOLDER: being written; replaced before this lands.
import type { Store } from './types.js';
export async function openPostgresStore(_options: unknown): Promise<Store> {
  throw new Error('not yet written');
}
