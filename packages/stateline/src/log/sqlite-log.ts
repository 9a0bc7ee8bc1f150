// PLACEHOLDER: being written; replaced before this lands.
import type { Log } from './types.js';
export async function openSqliteLog(_options: unknown): Promise<Log> {
  throw new Error('not yet written');
}
