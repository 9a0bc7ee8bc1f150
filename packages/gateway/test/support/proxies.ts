import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const HAPROXY = process.env.STATELINE_HAPROXY ?? '/usr/sbin/haproxy';
export const NGINX = process.env.STATELINE_NGINX ?? '/usr/sbin/nginx';
const IN_CI = process.env.CI === 'true' || process.env.CI === '1';

/**
 * Whether a proxy binary is here. Outside CI an absent one skips (with one printed line); under
 * CI=true it fails the run, as for the shared services.
 */
export function needBinary(path: string, name: string): string | false {
  if (existsSync(path)) return false;
  const line = `${name} is not installed at ${path}: skipping its tests (.ci/run installs it)`;
  if (IN_CI) throw new Error(`CI=true but ${line}`);
  process.stdout.write(`# SKIP ${line}\n`);
  return line;
}

/** A TCP port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function accepting(port: number, ms: number, child: ChildProcess, log: () => string): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`proxy exited with ${child.exitCode}: ${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`proxy not listening on ${port} within ${ms} ms: ${log()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A proxy process we started, with its config in a temp dir removed on stop. */
export interface RunningProxy {
  port: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

function run(bin: string, args: string[], dir: string, port: number): Promise<RunningProxy> {
  const child = spawn(bin, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-4000)));
  child.stderr!.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-4000)));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  return accepting(port, 5000, child, () => output).then(
    () => ({ port, child, stop }),
    async (err: unknown) => {
      await stop();
      throw err;
    },
  );
}

/** Runs HAProxy in the foreground (`-db`) on `config`, which must bind 127.0.0.1:`port`. */
export function startHaproxy(config: string, port: number): Promise<RunningProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'sl-haproxy-'));
  writeFileSync(join(dir, 'haproxy.cfg'), config);
  return run(HAPROXY, ['-f', join(dir, 'haproxy.cfg'), '-db'], dir, port);
}

/**
 * Runs nginx in the foreground with `config` (a complete nginx.conf binding 127.0.0.1:`port`); pid,
 * logs and temp files live in a temp dir.
 */
export function startNginx(config: string, port: number): Promise<RunningProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'sl-nginx-'));
  // Temp paths must be writable by us, not /var/lib/nginx.
  const conf = config.replace(
    /^http \{$/m,
    [
      'http {',
      `    access_log off;`,
      `    client_body_temp_path ${dir}/body;`,
      `    proxy_temp_path ${dir}/proxy;`,
      `    fastcgi_temp_path ${dir}/fastcgi;`,
      `    uwsgi_temp_path ${dir}/uwsgi;`,
      `    scgi_temp_path ${dir}/scgi;`,
    ].join('\n'),
  );
  // As root, nginx's workers would run as nobody and could not use the temp dir.
  const asRoot = process.getuid?.() === 0 ? 'user root;\n' : '';
  writeFileSync(join(dir, 'nginx.conf'), asRoot + conf);
  return run(
    NGINX,
    [
      '-p',
      dir,
      '-c',
      join(dir, 'nginx.conf'),
      '-e',
      join(dir, 'error.log'),
      '-g',
      `daemon off; pid ${dir}/nginx.pid;`,
    ],
    dir,
    port,
  );
}
