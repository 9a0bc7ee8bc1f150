import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const MASTERS = 3;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function clusterOk(cli: string, port: number): Promise<boolean> {
  try {
    const { stdout } = await run(cli, ['-p', String(port), 'CLUSTER', 'INFO'], { timeout: 2000 });
    return stdout.includes('cluster_state:ok');
  } catch {
    return false;
  }
}

/** Waits until every node reports `cluster_state:ok`, or throws after `ms`. */
async function waitOk(cli: string, ports: number[], ms: number): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    const ok = await Promise.all(ports.map((p) => clusterOk(cli, p)));
    if (ok.every(Boolean)) return;
    if (Date.now() > until)
      throw new Error(`the cluster on ports ${ports.join(',')} did not reach cluster_state:ok`);
    await sleep(100);
  }
}

const portOf = (spec: string): number => Number(spec.slice(spec.lastIndexOf(':') + 1));

/** One lab-owned redis-server, as the caller starts it (`redis://127.0.0.1:<port>`). */
export interface RedisNode {
  spec: string;
  restart?: () => Promise<void>;
  close(): Promise<void>;
}

/** The running cluster: its spec serves both the Store and the Bus. */
export interface RedisClusterHandle {
  spec: string;
  bus: string;
  target: string;
  restart: () => Promise<void>;
  close(): Promise<void>;
}

/**
 * The lab's own Redis Cluster: three masters (each started by `startNode` with the cluster
 * settings as extra arguments) joined by `redis-cli --cluster create`. Its spec serves the Store and the Bus (`bus`), and
 * the shop keeps its chat history there too. `restart` restarts the first master (its slots are
 * unavailable meanwhile, nothing is lost); `close` stops all three and removes their files.
 *
 * @example
 * ```ts
 * const cluster = await startRedisCluster((extra) => startRedis(binary, extra), '/usr/bin/redis-cli');
 * cluster.spec; // 'redis-cluster://127.0.0.1:40001,127.0.0.1:40002,127.0.0.1:40003'
 * await cluster.close();
 * ```
 */
export async function startRedisCluster(
  startNode: (extra: readonly string[]) => Promise<RedisNode>,
  cli: string,
): Promise<RedisClusterHandle> {
  const nodes: RedisNode[] = [];
  const closeAll = () => Promise.all(nodes.map((n) => n.close())).then(() => undefined);
  try {
    for (let i = 0; i < MASTERS; i++)
      nodes.push(
        await startNode([
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          'nodes.conf',
          '--cluster-node-timeout',
          '2000',
        ]),
      );
    const ports = nodes.map((n) => portOf(n.spec));
    const addresses = ports.map((p) => `127.0.0.1:${p}`);
    await run(cli, ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'], {
      timeout: 20_000,
    });
    await waitOk(cli, ports, 15_000);
    const spec = `redis-cluster://${addresses.join(',')}`;
    const first = nodes[0]!;
    return {
      spec,
      bus: spec,
      target: `redis-cluster:${ports[0]}`,
      restart: async () => {
        await first.restart!();
        await waitOk(cli, ports, 15_000);
      },
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
