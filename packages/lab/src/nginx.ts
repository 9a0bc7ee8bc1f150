import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { exportNginx } from '@stateline/gateway';
import { SL_ERR_PROXY_FAILED } from './errors.js';
import { freePort, type ExternalProxy, type HaproxyOptions } from './haproxy.js';

/** Where Debian's package puts it; `STATELINE_NGINX` names another binary. */
export const NGINX_BIN = process.env.STATELINE_NGINX || '/usr/sbin/nginx';
const START_TIMEOUT = 10_000;
const run = promisify(execFile);

type Server = { id: string; host: string; port: number; state: 'ready' | 'drain' | 'maint' };

/** The exported configuration, with the lab's pid/log/temp paths, the gateway proof and `down` servers. */
export function labNginxConfig(o: HaproxyOptions, port: number, servers: Server[], dir: string): string {
  let text = exportNginx({
    balance: o.balance,
    instances: servers.map((s) => ({ id: s.id, address: `${s.host}:${s.port}` })),
    port,
    host: o.host,
    maxBodyBytes: o.maxBodyBytes,
  });
  for (const s of servers) {
    // nginx has no runtime API: a drained or dead instance is written `down` and the file reloaded.
    if (s.state !== 'ready')
      text = text.replace(new RegExp(`^(\\s+server \\S+)(.*; # ${s.id})$`, 'm'), '$1 down$2');
  }
  const paths = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((t) => `    ${t}_temp_path ${join(dir, t)};\n`)
    .join('');
  text = text.replace(/^http \{\n/m, `http {\n    access_log off;\n${paths}`);
  if (o.proof) {
    text = text.replace(
      /^(\s+)(proxy_set_header X-Forwarded-Host .*\n)/m,
      `$1$2$1proxy_set_header ${o.proof.header} ${o.proof.value};\n`,
    );
  }
  return `pid ${join(dir, 'nginx.pid')};\nerror_log ${join(dir, 'error.log')} warn;\n${text}`;
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((ok) => {
    const s = connect({ host, port });
    s.once('connect', () => (s.destroy(), ok(true)));
    s.once('error', () => ok(false));
  });
}

/**
 * Starts nginx with the configuration `stateline export nginx` writes in front of the given
 * instances; every change of an instance rewrites the file and reloads nginx (`nginx -s reload`).
 *
 * @example
 * ```ts
 * const proxy = await startNginx({ balance: 'hash', instances: [{ id: 'i1', host: '127.0.0.1', port: 3001 }], port: 0, host: '127.0.0.1', maxBodyBytes: 1 << 20 });
 * await proxy.setState('i1', 'maint');
 * await proxy.close();
 * ```
 */
export async function startNginx(o: HaproxyOptions): Promise<ExternalProxy> {
  if (!existsSync(NGINX_BIN)) {
    throw new SL_ERR_PROXY_FAILED(`nginx was not found at ${NGINX_BIN} (apt-get install nginx)`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'stateline-nginx-'));
  for (const t of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, t));
  const port = o.port === 0 ? await freePort(o.host) : o.port;
  const servers: Server[] = o.instances.map((i) => ({ ...i, state: 'ready' }));
  const file = join(dir, 'nginx.conf');
  const write = () => writeFileSync(file, labNginxConfig(o, port, servers, dir));
  write();
  let stderr = '';
  const child = spawn(NGINX_BIN, ['-c', file, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-2000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const cleanup = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGQUIT');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  const host = o.host === '0.0.0.0' ? '127.0.0.1' : o.host;
  const until = Date.now() + START_TIMEOUT;
  while (!(await accepts(host, port))) {
    if (child.exitCode !== null || Date.now() > until) {
      await cleanup();
      const why = stderr.split('\n').find((l) => /emerg|alert/.test(l)) ?? `not listening on ${port}`;
      throw new SL_ERR_PROXY_FAILED(`nginx did not start: ${why.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  const reload = async () => {
    write();
    await run(NGINX_BIN, ['-c', file, '-s', 'reload']).catch((err: Error) => {
      throw new SL_ERR_PROXY_FAILED(`nginx reload failed: ${err.message.split('\n')[0]}`);
    });
  };
  const server = (id: string) => {
    const s = servers.find((x) => x.id === id);
    if (!s) throw new SL_ERR_PROXY_FAILED(`nginx has no server ${id}`);
    return s;
  };
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    setState: async (id, state) => {
      server(id).state = state;
      await reload();
    },
    setAddress: async (id, h, p) => {
      Object.assign(server(id), { host: h, port: p });
      await reload();
    },
    close: () => (closing ??= cleanup()),
  };
}
