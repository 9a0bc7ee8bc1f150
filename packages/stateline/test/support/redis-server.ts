import { spawn, execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { after } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, eventually } from './free-port.js';
import net from 'node:net';
import { IN_CI } from './services.js';

const run = promisify(execFile);

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.setTimeout(500, () => (s.destroy(), resolve(false)));
    s.once('error', () => resolve(false));
    s.once('connect', () => s.write('PING\r\n'));
    s.once('data', (d) => (s.destroy(), resolve(d.toString().startsWith('+PONG'))));
  });
}

/** A private redis-server on a free port, for tests that kill or reconfigure Redis. */
export class TestRedis {
  private proc: ChildProcess | undefined;
  private readonly dir = mkdtempSync(join(tmpdir(), 'sl-redis-'));
  private constructor(
    readonly port: number,
    private readonly extra: string[],
  ) {}

  static async start(extra: string[] = []): Promise<TestRedis> {
    const r = new TestRedis(await freePort(), extra);
    await r.startProcess();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async startProcess(): Promise<void> {
    this.proc = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        this.dir,
        ...this.extra,
      ],
      { stdio: 'ignore' },
    );
    await eventually(() => ping(this.port), 5000, 25);
  }

  /** SIGKILL, as a crash would. */
  async kill(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A 3-master Redis Cluster on free ports, built with redis-cli --cluster create. */
export class TestRedisCluster {
  private constructor(readonly nodes: TestRedis[]) {}

  /** `replicas` per master: redis-cli picks them among the extra nodes; resolves once they synced. */
  static async start(masters = 3, replicas = 0): Promise<TestRedisCluster> {
    const nodes: TestRedis[] = [];
    try {
      for (let i = 0; i < masters * (1 + replicas); i++) {
        nodes.push(
          await TestRedis.start([
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            `nodes-${i}.conf`,
            '--cluster-node-timeout',
            '2000',
          ]),
        );
      }
      await run('redis-cli', [
        '--cluster',
        'create',
        ...nodes.map((n) => `127.0.0.1:${n.port}`),
        '--cluster-replicas',
        String(replicas),
        '--cluster-yes',
      ]);
      await eventually(
        async () => {
          const { stdout } = await run('redis-cli', ['-p', String(nodes[0]!.port), 'cluster', 'info']);
          return stdout.includes('cluster_state:ok');
        },
        10_000,
        100,
      );
      const cluster = new TestRedisCluster(nodes);
      if (replicas > 0) await cluster.waitReplicated();
      return cluster;
    } catch (err) {
      await Promise.all(nodes.map((n) => n.stop()));
      throw err;
    }
  }

  get urls(): string[] {
    return this.nodes.map((n) => n.url);
  }

  /** `redis-cluster://127.0.0.1:p1,…` with an optional query string (e.g. `?prefix=x:`). */
  spec(query = ''): string {
    return `redis-cluster://${this.nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}${query}`;
  }

  /** Runs one command on one node with redis-cli; the reply as text. */
  async cli(node: TestRedis, ...args: string[]): Promise<string> {
    const { stdout } = await run('redis-cli', ['-p', String(node.port), ...args]);
    return stdout.trim();
  }

  /** The master that owns the slot of `key`. */
  async ownerOf(key: string): Promise<TestRedis> {
    const slot = Number(await this.cli(this.nodes[0]!, 'CLUSTER', 'KEYSLOT', key));
    for (const n of this.nodes) {
      const mine = await this.cli(n, 'CLUSTER', 'MYID');
      const lines = (await this.cli(n, 'CLUSTER', 'NODES')).split('\n');
      const self = lines.find((l) => l.startsWith(mine));
      for (const range of self?.split(' ').slice(8) ?? []) {
        const [from, to = from] = range.split('-').map(Number);
        if (slot >= from! && slot <= to!) return n;
      }
    }
    throw new Error(`no master owns slot ${slot}`);
  }

  /** Moves the (key-less) slot of `key` from its master to `to`, as a resharding would. */
  async moveSlotOf(key: string, to: TestRedis): Promise<void> {
    const from = await this.ownerOf(key);
    const slot = await this.cli(this.nodes[0]!, 'CLUSTER', 'KEYSLOT', key);
    const toId = await this.cli(to, 'CLUSTER', 'MYID');
    const fromId = await this.cli(from, 'CLUSTER', 'MYID');
    await this.cli(to, 'CLUSTER', 'SETSLOT', slot, 'IMPORTING', fromId);
    await this.cli(from, 'CLUSTER', 'SETSLOT', slot, 'MIGRATING', toId);
    for (const n of [to, from, ...this.nodes.filter((x) => x !== to && x !== from)])
      await this.cli(n, 'CLUSTER', 'SETSLOT', slot, 'NODE', toId);
  }

  /** Resolves once every replica is linked to its master and has all it wrote so far. */
  async waitReplicated(ms = 20_000): Promise<void> {
    await eventually(
      async () => {
        for (const n of this.nodes) {
          const info = await this.cli(n, 'INFO', 'replication');
          if (info.includes('role:slave') && !info.includes('master_link_status:up')) return false;
          const offset = /master_repl_offset:(\d+)/.exec(info)?.[1];
          if (info.includes('role:master') && info.includes('connected_slaves:0') === false) {
            const lagging = [...info.matchAll(/slave\d+:.*offset=(\d+)/g)].some((m) => m[1] !== offset);
            if (lagging) return false;
          }
        }
        return true;
      },
      ms,
      100,
    );
  }

  /** Resolves once every node reports `cluster_state:ok`. */
  async waitOk(ms = 15_000): Promise<void> {
    await eventually(
      async () => {
        for (const n of this.nodes)
          if (!(await this.cli(n, 'CLUSTER', 'INFO')).includes('cluster_state:ok')) return false;
        return true;
      },
      ms,
      100,
    );
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
  }
}

/**
 * One 3-master cluster (with `replicas` per master) for the calling test file, stopped after it. Outside CI, missing
 * `redis-server`/`redis-cli` skip the file's cluster tests with one printed line; under `CI=true`
 * they fail it.
 */
export async function clusterForFile(
  what: string,
  replicas = 0,
): Promise<{ skip: string | false; cluster?: TestRedisCluster }> {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    execFileSync('redis-cli', ['--version'], { stdio: 'ignore' });
  } catch {
    if (IN_CI)
      throw new Error(`CI=true but redis-server/redis-cli are not installed: the ${what} tests cannot run`);
    const line = `redis-server or redis-cli is not installed: skipping the ${what} tests`;
    process.stdout.write(`# SKIP ${line}\n`);
    return { skip: line };
  }
  const cluster = await TestRedisCluster.start(3, replicas);
  after(() => cluster.stop());
  return { skip: false, cluster };
}
