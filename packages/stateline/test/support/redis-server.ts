import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, eventually } from './free-port.js';
import net from 'node:net';

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
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir, ...this.extra],
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

  static async start(masters = 3): Promise<TestRedisCluster> {
    const nodes: TestRedis[] = [];
    try {
      for (let i = 0; i < masters; i++) {
        nodes.push(await TestRedis.start(['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${i}.conf`, '--cluster-node-timeout', '2000']));
      }
      await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes']);
      await eventually(async () => {
        const { stdout } = await run('redis-cli', ['-p', String(nodes[0]!.port), 'cluster', 'info']);
        return stdout.includes('cluster_state:ok');
      }, 10_000, 100);
      return new TestRedisCluster(nodes);
    } catch (err) {
      await Promise.all(nodes.map((n) => n.stop()));
      throw err;
    }
  }

  get urls(): string[] {
    return this.nodes.map((n) => n.url);
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
  }
}
