// PLACEHOLDER: being written; replaced before this lands.
import type { Bus } from './types.js';
export async function openRedisBus(_options: unknown): Promise<Bus> {
  throw new Error('not yet written');
}
