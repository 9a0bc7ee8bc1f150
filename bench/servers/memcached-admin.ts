/**
 * A memcached for the benches: the one at `STATELINE_BENCH_MEMCACHED` (host:port), else the bench's
 * own `/usr/bin/memcached` on a free port, stopped with `stop()`. Bench children find it through
 * that same variable (set here, inherited by forked servers).
 */
import { spawn } from 'node:child_process';
import net from 'node:net';

export const MEMCACHED_ENV = 'STATELINE_BENCH_MEMCACHED';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer().once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' }, () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/** Starts (or finds) the bench memcached and exports its address to children. */
export async function benchMemcached(): Promise<{ server: string; stop: () => void }> {
  const given = process.env[MEMCACHED_ENV];
  if (given) return { server: given, stop: () => {} };
  const port = await freePort();
  const args = ['-p', String(port), '-l', '127.0.0.1', '-U', '0', '-m', '256', '-t', '2'];
  if (process.getuid?.() === 0) args.push('-u', 'root');
  const child = spawn('/usr/bin/memcached', args, { stdio: 'ignore' });
  const exited = new Promise<never>((_, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`memcached exited (${code})`)));
  });
  const up = async () => {
    for (let i = 0; i < 200; i++) {
      if (await accepts(port)) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error('memcached did not start');
  };
  await Promise.race([up(), exited]);
  const server = `127.0.0.1:${port}`;
  process.env[MEMCACHED_ENV] = server;
  return {
    server,
    stop: () => {
      delete process.env[MEMCACHED_ENV];
      child.kill('SIGKILL');
    },
  };
}

/** The bench memcached's address in a child (set by the parent's {@link benchMemcached}). */
export function memcachedServer(): string {
  const server = process.env[MEMCACHED_ENV];
  if (!server) throw new Error(`${MEMCACHED_ENV} is not set: the bench starts memcached before its rows`);
  return server;
}
