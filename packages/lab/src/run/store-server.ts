import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { createStore } from 'stateline/store';
import type { LabStore } from './config.js';
import { startRedisCluster } from './redis-cluster-server.js';

/** The durable Store one config runs on, prepared (and later removed) by the lab. */
export interface LabStoreHandle {
  /** The Store spec every instance gets (`STATELINE_STORE`). */
  spec: string;
  /** The Bus spec every instance gets when the Store's server is also the Bus (default `ipc:`). */
  bus?: string;
  /** A Store for sessions alone, when they live apart (`STATELINE_SESSION_STORE`). */
  sessionSpec?: string;
  /** Present when the lab owns the server and can restart it (`store-restart`). */
  restart?: () => Promise<void>;
  /** What a restart targets, e.g. `redis-server:43121`. */
  target?: string;
  /** Why `store-restart` does not apply, when it does not. */
  noRestart?: string;
  /** The store server's process id right now, when the lab started one (its CPU is measured). */
  pid?: () => number | undefined;
  /** Stops what the lab started and removes what it wrote. */
  close(): Promise<void>;
}

/** A config that cannot run on this machine, with the reason. */
export interface StoreUnavailable {
  skipped: string;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * The first executable called `name` on PATH, or null.
 *
 * @example
 * ```ts
 * findOnPath('redis-server'); // '/usr/bin/redis-server'
 * ```
 */
export function findOnPath(name: string, path = process.env.PATH ?? ''): string | null {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * A free TCP port on 127.0.0.1 (bound, read, released).
 *
 * @example
 * ```ts
 * const port = await freePort();
 * ```
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Whether a text-protocol server on 127.0.0.1:`port` answers `command` with a line starting `reply`. */
function answers(port: number, command: string, reply: string, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(500, () => done(false));
    s.once('error', () => done(false));
    s.once('connect', () => s.write(`${command}\r\n`));
    s.once('data', (d) => done(d.toString().startsWith(reply)));
  });
}

/** Children the lab started: SIGKILLed if the lab process exits without closing them. */
const owned = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of owned) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/**
 * The lab's own `redis-server` on a free port, with an append-only file in a temporary directory
 * so a restart keeps the data (a restart, not a wipe). Never the machine's shared Redis. `extra`
 * arguments go to redis-server (a cluster node's settings). With `host`, it runs inside that
 * network-namespace host and listens on its address only.
 */
async function startRedis(
  binary: string,
  extra: readonly string[] = [],
  host?: { address: string; wrap: readonly string[] },
): Promise<LabStoreHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'stateline-lab-redis-'));
  // A host of its own has every port free.
  const port = host ? 6379 : await freePort();
  const bind = host?.address ?? '127.0.0.1';
  let child: ChildProcess | null = null;
  const args = [
    '--port',
    String(port),
    '--bind',
    bind,
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    'yes',
    '--appendfsync',
    'everysec',
    '--protected-mode',
    'no',
    ...extra,
  ];
  const up = async () => {
    const [cmd, argv] = host ? [host.wrap[0]!, [...host.wrap.slice(1), binary, ...args]] : [binary, args];
    const c = spawn(cmd, argv, { stdio: 'ignore' });
    c.on('error', () => {});
    owned.add(c);
    c.once('exit', () => owned.delete(c));
    child = c;
    const until = Date.now() + 10_000;
    while (!(await answers(port, 'PING', '+PONG', bind))) {
      if (c.exitCode !== null || Date.now() > until) {
        c.kill('SIGKILL');
        throw new Error(`redis-server on port ${port} did not start`);
      }
      await sleep(25);
    }
  };
  const down = async (signal: NodeJS.Signals) => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill(signal);
    const timer = setTimeout(() => c.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  try {
    await up();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    spec: `redis://${bind}:${port}`,
    target: host ? `redis-server@${bind}:${port}` : `redis-server:${port}`,
    pid: () => (child as ChildProcess | null)?.pid,
    restart: async () => {
      await down('SIGTERM');
      await up();
    },
    close: async () => {
      await down('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The lab's own `memcached` on a free port for sessions, beside a fresh SQLite file for users and
 * orders. A restart is what a memcached restart is: every session is gone.
 */
async function startMemcached(binary: string): Promise<LabStoreHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'stateline-lab-memcached-'));
  const port = await freePort();
  let child: ChildProcess | null = null;
  const args = ['-p', String(port), '-l', '127.0.0.1', '-U', '0', '-m', '64'];
  // memcached refuses to run as root without a user to switch to.
  if (process.getuid?.() === 0) args.push('-u', 'root');
  const up = async () => {
    const c = spawn(binary, args, { stdio: 'ignore' });
    c.on('error', () => {});
    owned.add(c);
    c.once('exit', () => owned.delete(c));
    child = c;
    const until = Date.now() + 10_000;
    while (!(await answers(port, 'version', 'VERSION'))) {
      if (c.exitCode !== null || Date.now() > until) {
        c.kill('SIGKILL');
        throw new Error(`memcached on port ${port} did not start`);
      }
      await sleep(25);
    }
  };
  const down = async () => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
  };
  try {
    await up();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    spec: `sqlite:${join(dir, 'state.db')}`,
    sessionSpec: `memcached://127.0.0.1:${port}`,
    target: `memcached:${port}`,
    pid: () => (child as ChildProcess | null)?.pid,
    restart: async () => {
      await down();
      await up();
    },
    close: async () => {
      await down();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Removes every row a run wrote under its key prefix; tables another run shares are left alone. */
async function cleanPostgres(url: string, prefix: string): Promise<void> {
  type PgClient = {
    connect(): Promise<void>;
    query(text: string, values: unknown[]): Promise<unknown>;
    end(): Promise<void>;
  };
  let pg: { default: { Client: new (o: { connectionString: string }) => PgClient } };
  try {
    pg = (await import('pg' as string)) as typeof pg;
  } catch {
    return;
  }
  const client = new pg.default.Client({ connectionString: url });
  try {
    await client.connect();
    for (const [table, column] of [
      ['stateline_store', 'key'],
      ['stateline_index', 'owner'],
      ['stateline_log', 'stream'],
      ['stateline_log_key', 'stream'],
      ['stateline_log_meta', 'stream'],
    ] as const) {
      await client
        .query(`DELETE FROM ${table} WHERE left(${column}, length($1)) = $1`, [prefix])
        .catch(() => {});
    }
  } catch {
    // Unreachable now: nothing more can be done; the rows are prefixed and expire.
  } finally {
    await client.end().catch(() => {});
  }
}

function withPrefix(url: string, prefix: string): string {
  const u = new URL(url);
  u.searchParams.set('prefix', prefix);
  return u.toString();
}

/**
 * Prepares the Store of one config: `sqlite` a fresh file in a temporary directory; `redis` the
 * lab's own `redis-server` on a free port (skipped when there is no `redis-server` on PATH);
 * `redis-cluster` the lab's own 3-master cluster, whose spec is the Bus's too (`bus`);
 * `memcached` the lab's own `memcached` for sessions beside a fresh SQLite file (skipped without
 * a `memcached` binary; with `storeHost`, the lab's Redis runs in that network-namespace host);
 * `postgres` the given server with a key prefix unique to this run, whose rows are deleted again
 * afterwards (skipped when it cannot be reached). Only the lab's Redis and memcached can be restarted.
 *
 * @example
 * ```ts
 * const store = await prepareStore('redis', { postgres: 'postgres://postgres@127.0.0.1:5432/test' });
 * if ('skipped' in store) console.log(store.skipped); else { use(store.spec); await store.close(); }
 * ```
 */
export async function prepareStore(
  kind: LabStore,
  o: { postgres: string; storeHost?: { address: string; wrap: readonly string[] } },
): Promise<LabStoreHandle | StoreUnavailable> {
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'stateline-lab-sqlite-'));
    return {
      spec: `sqlite:${join(dir, 'state.db')}`,
      noRestart: 'SQLite is embedded in every instance: there is no store server to restart',
      close: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  if (kind === 'redis-cluster') {
    const binary = findOnPath('redis-server');
    const cli = findOnPath('redis-cli');
    if (!binary || !cli)
      return { skipped: 'no redis-server or redis-cli on PATH (the lab starts its own Redis Cluster)' };
    try {
      return await startRedisCluster((extra) => startRedis(binary, extra), cli);
    } catch (err) {
      return { skipped: `could not start a Redis Cluster: ${(err as Error).message}` };
    }
  }
  if (kind === 'memcached') {
    const binary = findOnPath('memcached');
    if (!binary) return { skipped: 'no memcached on PATH (the lab starts its own memcached)' };
    try {
      return await startMemcached(binary);
    } catch (err) {
      return { skipped: `could not start memcached: ${(err as Error).message}` };
    }
  }
  if (kind === 'redis') {
    const binary = findOnPath('redis-server');
    if (!binary) return { skipped: 'no redis-server on PATH (the lab starts its own Redis)' };
    try {
      return await startRedis(binary, [], o.storeHost);
    } catch (err) {
      return { skipped: `could not start redis-server: ${(err as Error).message}` };
    }
  }
  const prefix = `lab_${randomBytes(6).toString('hex')}:`;
  const spec = withPrefix(o.postgres, prefix);
  try {
    const probe = await createStore(spec);
    await probe.get('lab:probe');
    await probe.close();
  } catch (err) {
    const where = new URL(o.postgres);
    where.password = '';
    return {
      skipped: `PostgreSQL not reachable at ${where.host}${where.pathname}: ${(err as Error).message}`,
    };
  }
  return {
    spec,
    noRestart: 'the PostgreSQL server is shared, not the lab’s own: the lab never restarts it',
    close: () => cleanPostgres(o.postgres, prefix),
  };
}
