import { spawn, execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { after } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, eventually } from './free-port.js';
import { TestRedis } from './redis-server.js';
import { IN_CI } from './services.js';

const run = promisify(execFile);

/** How long the sentinels wait before they call the primary down (`down-after-milliseconds`). */
export const DOWN_AFTER_MS = 1000;

async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-p', String(port), ...args]);
  return stdout.trim();
}

/**
 * A primary, one replica and three sentinels, each its own process on a free port, with a short
 * `down-after-milliseconds` so a failover takes seconds.
 */
export class TestSentinelSet {
  private readonly dir = mkdtempSync(join(tmpdir(), 'sl-sentinel-'));
  private readonly sentinelProcs: ChildProcess[] = [];
  readonly sentinelPorts: number[] = [];

  private constructor(
    readonly name: string,
    readonly nodes: TestRedis[],
  ) {}

  static async start(name = 'slmaster'): Promise<TestSentinelSet> {
    const primary = await TestRedis.start();
    const set = new TestSentinelSet(name, [primary]);
    try {
      set.nodes.push(await TestRedis.start(['--replicaof', '127.0.0.1', String(primary.port)]));
      await set.waitReplicated();
      for (let i = 0; i < 3; i++) await set.startSentinel(i);
      await eventually(
        async () => {
          for (const port of set.sentinelPorts) {
            const info = await cli(port, 'SENTINEL', 'REPLICAS', name);
            if (!info.includes(String(set.nodes[1]!.port))) return false;
            const others = await cli(port, 'SENTINEL', 'SENTINELS', name);
            if ((others.match(/^name$/gm) ?? []).length < 2) return false;
          }
          return true;
        },
        20_000,
        100,
      );
      return set;
    } catch (err) {
      await set.stop();
      throw err;
    }
  }

  private async startSentinel(i: number): Promise<void> {
    const port = await freePort();
    const conf = join(this.dir, `sentinel-${i}.conf`);
    writeFileSync(
      conf,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${this.dir}`,
        `sentinel monitor ${this.name} 127.0.0.1 ${this.nodes[0]!.port} 2`,
        `sentinel down-after-milliseconds ${this.name} ${DOWN_AFTER_MS}`,
        `sentinel failover-timeout ${this.name} 3000`,
        `sentinel parallel-syncs ${this.name} 1`,
        '',
      ].join('\n'),
    );
    const proc = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
    this.sentinelProcs.push(proc);
    this.sentinelPorts.push(port);
    await eventually(async () => (await cli(port, 'PING')) === 'PONG', 5000, 25);
  }

  /** `redis+sentinel://127.0.0.1:p1,…/name` with an optional query string. */
  spec(query = ''): string {
    return `redis+sentinel://${this.sentinelPorts.map((p) => `127.0.0.1:${p}`).join(',')}/${this.name}${query}`;
  }

  get sentinels(): string[] {
    return this.sentinelPorts.map((p) => `127.0.0.1:${p}`);
  }

  /** The port of the node the sentinels currently call the primary. */
  async primaryPort(): Promise<number> {
    const reply = await cli(this.sentinelPorts[0]!, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.name);
    return Number(reply.split('\n')[1]);
  }

  /** The data node on `port`. */
  node(port: number): TestRedis {
    const n = this.nodes.find((x) => x.port === port);
    if (!n) throw new Error(`no data node on port ${port}`);
    return n;
  }

  /** Runs one command on a data node with redis-cli; the reply as text. */
  cli(port: number, ...args: string[]): Promise<string> {
    return cli(port, ...args);
  }

  /**
   * Resolves once the replica is linked and has everything the primary had written when this was
   * called (writes still arriving meanwhile do not hold it up).
   */
  async waitReplicated(ms = 20_000): Promise<void> {
    let target: number | undefined;
    await eventually(
      async () => {
        const infos = await Promise.all(
          this.nodes.map((n) => cli(n.port, 'INFO', 'replication').catch(() => '')),
        );
        const primary = infos.find((i) => i.includes('role:master'));
        const replica = infos.find((i) => i.includes('role:slave'));
        if (!primary || !replica?.includes('master_link_status:up')) return false;
        target ??= Number(/master_repl_offset:(\d+)/.exec(primary)?.[1]);
        const acked = [...primary.matchAll(/slave\d+:.*offset=(\d+)/g)].map((m) => Number(m[1]));
        return acked.length > 0 && acked.every((o) => o >= target!);
      },
      ms,
      50,
    );
  }

  /**
   * SIGKILLs the primary; resolves with the killed node, which {@link TestSentinelSet.rejoin}
   * starts again (the sentinels then make it a replica of the promoted one).
   */
  async killPrimary(): Promise<TestRedis> {
    const node = this.node(await this.primaryPort());
    await node.kill();
    return node;
  }

  /** Starts a killed node again and waits until it replicates the new primary. */
  async rejoin(node: TestRedis): Promise<void> {
    await node.startProcess();
    await this.waitReplicated(30_000);
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.sentinelProcs.map(
        (p) =>
          new Promise<void>((resolve) => {
            if (p.exitCode !== null || p.signalCode !== null) return resolve();
            p.once('exit', () => resolve());
            p.kill('SIGKILL');
          }),
      ),
    );
    await Promise.all(this.nodes.map((n) => n.stop()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * One sentinel set for a whole test file, stopped after it; without redis-server the file skips
 * with one line (a failure under `CI=true`).
 */
export async function sentinelForFile(
  what: string,
): Promise<{ skip: string | false; set?: TestSentinelSet }> {
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
  const set = await TestSentinelSet.start();
  after(() => set.stop());
  return { skip: false, set };
}
