/**
 * The realtime bench's own Redis Cluster: three masters on free ports (no replicas, no
 * persistence), joined by `redis-cli --cluster create`, removed by `stop()`. Never the shared 6379.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function until(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check().catch(() => false))) {
    if (Date.now() > end) throw new Error(`${what} within ${ms} ms`);
    await sleep(50);
  }
}

export interface BenchCluster {
  /** `redis-cluster://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3` */
  spec: string;
  stop(): void;
}

/**
 * Starts the cluster and waits for `cluster_state:ok` on every node.
 *
 * @example
 * ```ts
 * const cluster = await startBenchCluster();
 * await createLog(`${cluster.spec}?prefix=bench:`);
 * cluster.stop();
 * ```
 */
export async function startBenchCluster(): Promise<BenchCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'rtbench-cluster-'));
  const procs: ChildProcess[] = [];
  const stop = () => {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const ports = await Promise.all([0, 1, 2].map(() => freePort()));
    for (const [i, port] of ports.entries()) {
      const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
      args.push('--dir', dir, '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${i}.conf`);
      const p = spawn('redis-server', args, { stdio: 'ignore' });
      p.on('error', () => {});
      procs.push(p);
    }
    const cli = (port: number, ...args: string[]) => run('redis-cli', ['-p', String(port), ...args]);
    for (const port of ports)
      await until(
        async () => (await cli(port, 'PING')).stdout.includes('PONG'),
        5000,
        `redis-server on ${port} did not start`,
      );
    const addresses = ports.map((p) => `127.0.0.1:${p}`);
    await run('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes']);
    for (const port of ports)
      await until(
        async () => (await cli(port, 'CLUSTER', 'INFO')).stdout.includes('cluster_state:ok'),
        10_000,
        'the cluster did not reach cluster_state:ok',
      );
    return { spec: `redis-cluster://${addresses.join(',')}`, stop };
  } catch (err) {
    stop();
    throw err;
  }
}
