import { createClient } from 'redis';
import { REDIS_URL } from './rows.js';

type Client = ReturnType<typeof createClient>;

/** What the bench asks of the shared Redis itself: its CPU time, and removing the bench's own keys. */
export class RedisAdmin {
  private constructor(private readonly client: Client) {}

  static async open(): Promise<RedisAdmin> {
    const client = createClient({ url: REDIS_URL });
    client.on('error', () => {});
    await client.connect();
    return new RedisAdmin(client);
  }

  /** CPU seconds (user + system) the Redis server has used since it started. */
  async cpuSeconds(): Promise<number> {
    const info = await this.client.info('cpu');
    const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? NaN);
    return field('used_cpu_user') + field('used_cpu_sys');
  }

  /**
   * Deletes the keys under `prefix` with SCAN + DEL (never FLUSH: other people's keys live on
   * this server). Returns how many were deleted.
   */
  async deleteKeysUnder(prefix: string): Promise<number> {
    if (!/^[\w:.-]{8,}$/.test(prefix))
      throw new Error(`refusing to delete keys under a short or odd prefix ${JSON.stringify(prefix)}`);
    let deleted = 0;
    for await (const keys of this.client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
      if (keys.length > 0) deleted += await this.client.del(keys);
    }
    return deleted;
  }

  /**
   * Keys under `prefix` and the bytes they hold: a string's length (`STRLEN`), or for a set,
   * sorted set or hash its `MEMORY USAGE` (Redis rounds that to its allocator's size classes).
   */
  async bytesUnder(prefix: string): Promise<{ keys: number; bytes: number }> {
    let keys = 0;
    let bytes = 0;
    for await (const batch of this.client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
      for (const key of batch) {
        keys++;
        bytes +=
          (await this.client.type(key)) === 'string'
            ? await this.client.strLen(key)
            : Number(await this.client.sendCommand(['MEMORY', 'USAGE', key, 'SAMPLES', '0'])) || 0;
      }
    }
    return { keys, bytes };
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
