import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { eventually, freePort } from './free-port.js';
import { IN_CI } from './services.js';

export const MEMCACHED_BIN = process.env.STATELINE_TEST_MEMCACHED_BIN ?? '/usr/bin/memcached';

/**
 * Skip reason when the memcached binary is absent (one printed line), `false` when present;
 * under `CI=true` an absent binary throws (.ci/run installs it).
 */
export function memcachedMissing(): string | false {
  if (existsSync(MEMCACHED_BIN)) return false;
  const line = `${MEMCACHED_BIN} is not installed: skipping the memcached tests (apt-get install memcached)`;
  if (IN_CI) throw new Error(`CI=true but ${line}`);
  process.stdout.write(`# SKIP ${line}\n`);
  return line;
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.setTimeout(500, () => (s.destroy(), resolve(false)));
    s.once('error', () => resolve(false));
    s.once('connect', () => s.write('version\r\n'));
    s.once('data', (d) => (s.destroy(), resolve(d.toString().startsWith('VERSION'))));
  });
}

/** A private memcached on a free port (`-m` MiB of memory, default 64), for tests. */
export class TestMemcached {
  private proc: ChildProcess | undefined;
  private constructor(
    readonly port: number,
    private readonly args: string[],
  ) {}

  static async start(extra: string[] = []): Promise<TestMemcached> {
    const m = new TestMemcached(await freePort(), extra);
    await m.startProcess();
    return m;
  }

  /** `host:port`, as a memcached spec and the Store's `servers` take it. */
  get server(): string {
    return `127.0.0.1:${this.port}`;
  }

  async startProcess(): Promise<void> {
    this.proc = spawn(
      MEMCACHED_BIN,
      ['-p', String(this.port), '-l', '127.0.0.1', '-U', '0', '-u', 'root', ...this.args],
      {
        stdio: 'ignore',
      },
    );
    await eventually(() => answers(this.port), 5000, 25);
  }

  /** Sends one text-protocol command and returns the reply up to its terminator. */
  command(line: string, until = /\r\n(END|OK|STORED|DELETED|NOT_FOUND|ERROR)?\r?\n?$/): Promise<string> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port: this.port, host: '127.0.0.1' });
      let out = '';
      s.once('error', reject);
      s.on('data', (d) => {
        out += d.toString();
        if (until.test(out)) {
          s.destroy();
          resolve(out);
        }
      });
      s.once('connect', () => s.write(`${line}\r\n`));
    });
  }

  /** The server's `stats` as numbers where they are numbers. */
  async stats(): Promise<Record<string, number>> {
    const out = await this.command('stats', /END\r\n$/);
    const stats: Record<string, number> = {};
    for (const m of out.matchAll(/^STAT (\S+) (\S+)\r$/gm)) stats[m[1]!] = Number(m[2]);
    return stats;
  }

  /** SIGKILL, as a crash would. */
  async kill(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  }

  stop(): Promise<void> {
    return this.kill();
  }
}
