/** The netns tests' guard and helpers: root + iproute2 needed, like a service. */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { netnsUnavailable, type NetTopology } from '../src/netns/index.js';
import { IN_CI } from '../../stateline/test/support/services.js';

let printed = false;

/**
 * False when network namespaces can be made here; otherwise the reason to skip, printed once
 * outside CI. Under `CI=true` (CI runs as root) a missing privilege throws, failing the run.
 */
export async function needNetns(): Promise<string | false> {
  const why = await netnsUnavailable();
  if (why === null) return false;
  if (IN_CI) throw new Error(`CI=true but ${why}`);
  if (!printed) {
    printed = true;
    process.stdout.write(`# SKIP netns tests: ${why}\n`);
  }
  return why;
}

const ECHO = new URL('./fixtures/net-echo.mjs', import.meta.url).pathname;
const PROBE = new URL('./fixtures/net-probe.mjs', import.meta.url).pathname;

/** Starts a TCP echo server on host `name`'s address; resolves once it listens. */
export async function startEcho(net: NetTopology, name: string, port: number): Promise<ChildProcess> {
  const [cmd, args] = net.command(name, process.execPath, [ECHO, net.host(name).address, String(port)]);
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  await once(child.stdout!, 'data');
  return child;
}

/** One TCP round trip from host `from` to `to`'s echo server: ms, or `timeout` / `error …`. */
export function probe(
  net: NetTopology,
  from: string,
  to: string,
  port: number,
  timeoutMs = 1500,
): Promise<string> {
  const [cmd, args] = net.command(from, process.execPath, [
    PROBE,
    net.host(to).address,
    String(port),
    String(timeoutMs),
  ]);
  return new Promise((resolve, reject) =>
    execFile(cmd, args, (err, out) => (err ? reject(err) : resolve(out.trim()))),
  );
}
