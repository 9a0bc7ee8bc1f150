import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportHaproxy } from '@stateline/gateway';
import type { BalancePolicy } from './cluster-options.js';
import { SL_ERR_PROXY_FAILED } from './errors.js';

/** Where Debian's package puts it; `STATELINE_HAPROXY` names another binary. */
export const HAPROXY_BIN = process.env.STATELINE_HAPROXY || '/usr/sbin/haproxy';
const BACKEND = 'stateline_instances';
const START_TIMEOUT = 10_000;

/** Options of {@link startHaproxy}. */
export interface HaproxyOptions {
  balance: BalancePolicy;
  /** The instances at start, by id; restarted ones are re-pointed with {@link Haproxy.setAddress}. */
  instances: { id: string; host: string; port: number }[];
  /** Port to listen on; 0 picks a free one. */
  port: number;
  host: string;
  maxBodyBytes: number;
  /** A header HAProxy sets on every forwarded request (dropping a client's copy): the gateway proof. */
  proof?: { header: string; value: string };
}

/** A production proxy the lab runs in front of the instances (HAProxy or nginx). */
export interface ExternalProxy {
  readonly url: string;
  readonly port: number;
  /** `ready` routes to it, `drain` keeps only its sticky clients (HAProxy), `maint` routes nothing to it. */
  setState(id: string, state: 'ready' | 'drain' | 'maint'): Promise<void>;
  /** Points the server at an instance's new address (a restarted instance listens on a new port). */
  setAddress(id: string, host: string, port: number): Promise<void>;
  close(): Promise<void>;
}

/** A running HAProxy, driven through its runtime API. */
export interface Haproxy extends ExternalProxy {
  /** The runtime API's answer to one command. */
  command(line: string): Promise<string>;
}

/** A port nothing listens on now, for a proxy that cannot bind port 0 and say which it got. */
export async function freePort(host: string): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok, fail) => server.once('error', fail).listen(0, host, ok));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

function runtime(socket: string, line: string): Promise<string> {
  return new Promise((ok, fail) => {
    let out = '';
    const c = connect(socket);
    c.setEncoding('utf8');
    c.on('data', (d) => (out += d));
    c.on('end', () => ok(out));
    c.on('error', fail);
    c.end(`${line}\n`);
  });
}

/** The exported configuration plus what the lab needs: the admin socket and the gateway proof. */
export function labHaproxyConfig(o: HaproxyOptions & { port: number }, socket: string): string {
  const text = exportHaproxy({
    balance: o.balance,
    instances: o.instances.map((i) => ({ id: i.id, address: `${i.host}:${i.port}` })),
    port: o.port,
    host: o.host,
    maxBodyBytes: o.maxBodyBytes,
    // As the built-in gateway in `stateline up`: liveness, checked twice a second.
    health: { path: '/healthz', interval: 500, timeout: 1000, rise: 1, fall: 2 },
  });
  const withSocket = text.replace(/^global\n/m, `global\n    stats socket ${socket} mode 600 level admin\n`);
  if (!o.proof) return withSocket;
  return withSocket.replace(
    /^(\s+bind .*\n)/m,
    `$1    http-request set-header ${o.proof.header} ${o.proof.value}\n`,
  );
}

/**
 * Starts HAProxy with the configuration `stateline export haproxy` writes (plus an admin socket)
 * in front of the given instances, and resolves once it accepts connections.
 *
 * @example
 * ```ts
 * const proxy = await startHaproxy({ balance: 'sticky', instances: [{ id: 'i1', host: '127.0.0.1', port: 3001 }], port: 0, host: '127.0.0.1', maxBodyBytes: 1 << 20 });
 * await proxy.setState('i1', 'drain');
 * await proxy.close();
 * ```
 */
export async function startHaproxy(o: HaproxyOptions): Promise<Haproxy> {
  if (!existsSync(HAPROXY_BIN)) {
    throw new SL_ERR_PROXY_FAILED(`haproxy was not found at ${HAPROXY_BIN} (apt-get install haproxy)`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'stateline-haproxy-'));
  const socket = join(dir, 'admin.sock');
  const port = o.port === 0 ? await freePort(o.host) : o.port;
  const file = join(dir, 'haproxy.cfg');
  writeFileSync(file, labHaproxyConfig({ ...o, port }, socket));
  let stderr = '';
  const child: ChildProcess = spawn(HAPROXY_BIN, ['-db', '-f', file], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-2000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const cleanup = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  const until = Date.now() + START_TIMEOUT;
  for (;;) {
    if (child.exitCode !== null) {
      await cleanup();
      const why = stderr.split('\n').find((l) => /ALERT/.test(l)) ?? `exit code ${child.exitCode}`;
      throw new SL_ERR_PROXY_FAILED(`haproxy did not start: ${why.trim()}`);
    }
    if (existsSync(socket) && (await runtime(socket, 'show info').catch(() => '')).includes('Pid:')) break;
    if (Date.now() > until) {
      await cleanup();
      throw new SL_ERR_PROXY_FAILED(`haproxy did not start within ${START_TIMEOUT} ms`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  const command = async (line: string) => {
    const out = (await runtime(socket, line)).trim();
    // The runtime API answers a successful `set` with nothing (or a note on what changed).
    if (/^(No such|Unknown|Require|Invalid|Can't)/i.test(out)) {
      throw new SL_ERR_PROXY_FAILED(`haproxy refused "${line}": ${out.split('\n')[0]}`);
    }
    return out;
  };
  let closing: Promise<void> | undefined;
  const host = o.host.includes(':') ? `[${o.host}]` : o.host;
  return {
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
    port,
    command,
    setState: async (id, state) => void (await command(`set server ${BACKEND}/${id} state ${state}`)),
    setAddress: async (id, h, p) => void (await command(`set server ${BACKEND}/${id} addr ${h} port ${p}`)),
    close: () => (closing ??= cleanup()),
  };
}
