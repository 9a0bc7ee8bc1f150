/**
 * The one place Stateline creates `memcached` (npm) clients: the driver's callbacks as promises,
 * and opening bounded by `timeout` (every server must answer `version`, so a typo in a spec fails
 * at start-up). Keys are spread over several servers by the driver's consistent hash ring
 * (ketama-compatible, md5). A dead server stays on the ring (`remove: false`): every instance keeps
 * mapping a key to the same server, so the keys of a lost server fail until it is back (empty),
 * and no instance ever reads a key from a server another instance no longer writes to.
 */
import { StatelineError } from '../errors.js';
import { loadPeer } from './peer.js';
import { withTimeout } from './timeout.js';

type Callback<T> = (err: unknown, result: T) => void;

/** The part of the `memcached` driver used here (declared here so no published type needs its typings). */
interface MemcachedClient {
  gets(key: string, cb: Callback<{ [key: string]: unknown; cas: string } | undefined>): void;
  add(key: string, value: string, lifetime: number, cb: Callback<boolean>): void;
  cas(key: string, value: string, cas: string, lifetime: number, cb: Callback<boolean>): void;
  del(key: string, cb: Callback<boolean>): void;
  version(cb: Callback<unknown[]>): void;
  on(event: 'failure' | 'issue', listener: () => void): unknown;
  end(): void;
}

type MemcachedCtor = new (servers: string[], options: Record<string, unknown>) => MemcachedClient;

/** A value read with `gets`: the stored string and the server's CAS token. */
export interface Gotten {
  value: string;
  cas: string;
}

/** The commands the memcached Store sends, as promises. */
export interface MemcachedLink {
  gets(key: string): Promise<Gotten | null>;
  /** False when the key exists (memcached `NOT_STORED`). */
  add(key: string, value: string, exptime: number): Promise<boolean>;
  /** False when the item changed or vanished since `cas` was read (`EXISTS` / `NOT_FOUND`). */
  cas(key: string, value: string, cas: string, exptime: number): Promise<boolean>;
  /** True when an item was removed. */
  del(key: string): Promise<boolean>;
  close(): void;
}

export interface MemcachedConnectOptions {
  /** `host:port` of every server. */
  servers: string[];
  label: string;
  timeout: number;
  poolSize: number;
  /** Largest value the driver lets through, in bytes (Stateline checks first, with its own error). */
  maxValue: number;
}

function describe(err: unknown): string {
  if (Array.isArray(err)) return err.map(describe).join('; ');
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

/** The driver reports a refused `add`/`cas` as an error flagged `notStored`. */
function isNotStored(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { notStored?: boolean }).notStored === true;
}

class DriverLink implements MemcachedLink {
  constructor(private readonly client: MemcachedClient) {}

  gets(key: string): Promise<Gotten | null> {
    return new Promise((resolve, reject) => {
      this.client.gets(key, (err, data) => {
        if (err) return reject(err instanceof Error ? err : new Error(describe(err)));
        if (!data || typeof data.cas !== 'string') return resolve(null);
        const value = data[key];
        resolve({ value: typeof value === 'string' ? value : String(value), cas: data.cas });
      });
    });
  }

  add(key: string, value: string, exptime: number): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.client.add(key, value, exptime, (err) => {
        if (isNotStored(err)) return resolve(false);
        if (err) return reject(err instanceof Error ? err : new Error(describe(err)));
        resolve(true);
      });
    });
  }

  cas(key: string, value: string, cas: string, exptime: number): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.client.cas(key, value, cas, exptime, (err, ok) => {
        if (isNotStored(err)) return resolve(false);
        if (err) return reject(err instanceof Error ? err : new Error(describe(err)));
        resolve(ok === true);
      });
    });
  }

  del(key: string): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.client.del(key, (err, ok) => {
        if (err) return reject(err instanceof Error ? err : new Error(describe(err)));
        resolve(ok === true);
      });
    });
  }

  close(): void {
    this.client.end();
  }
}

/**
 * Opens a client for `servers` and checks that each answers within `timeout`; rejects with
 * `SL_ERR_STORE_UNAVAILABLE` naming the servers otherwise.
 *
 * @example
 * ```ts
 * const link = await connectMemcached({ servers: ['127.0.0.1:11211'], label: 'memcached store', timeout: 2000, poolSize: 10, maxValue: 1 << 20 });
 * await link.add('k', 'v', 60);
 * ```
 */
export async function connectMemcached(o: MemcachedConnectOptions): Promise<MemcachedLink> {
  const Memcached = await loadPeer<MemcachedCtor>('memcached', `The ${o.label}`);
  const options = {
    timeout: o.timeout,
    idle: 60_000,
    poolSize: o.poolSize,
    maxValue: o.maxValue,
    keyCompression: false,
    // A failed server is tried again 1 s later and never dropped from the ring (see the file
    // comment). With failures never used up, the driver never reaches its reconnect path (which
    // spawns the system `ping`); its failure-window timer is kept at 1 ms so it holds no process open.
    retries: 0,
    retry: 1000,
    failures: Number.MAX_SAFE_INTEGER,
    failuresTimeout: 1,
    remove: false,
  };
  const client = new Memcached(o.servers, options);
  // The driver emits failures as events; without listeners they would go nowhere, which is fine,
  // but an 'error' event must never be unhandled.
  client.on('failure', () => {});
  client.on('issue', () => {});
  const versions = new Promise<void>((resolve, reject) => {
    client.version((err, list) => {
      if (err) return reject(err instanceof Error ? err : new Error(describe(err)));
      if (!Array.isArray(list) || list.length < o.servers.length) {
        return reject(new Error('not every server answered'));
      }
      resolve();
    });
  });
  try {
    await withTimeout(versions, o.timeout, () => new Error(`no answer within ${o.timeout} ms`));
  } catch (err) {
    client.end();
    throw new StatelineError(
      'SL_ERR_STORE_UNAVAILABLE',
      `${o.label}: cannot reach ${o.servers.join(',')} (${describe(err)})`,
      { cause: err },
    );
  }
  return new DriverLink(client);
}
