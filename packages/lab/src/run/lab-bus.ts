import net from 'node:net';

/** Where the `nats` configs find their server (`STATELINE_LAB_NATS_URL`, default the local one). */
export const LAB_NATS_ENV = 'STATELINE_LAB_NATS_URL';
const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';

/** The Bus spec one config's instances get, or why the config cannot run here. */
export type LabBusHandle = { spec: string } | { skipped: string };

function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1000, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/**
 * The Bus of a config: the supervisor's relay (`ipc`), or a NATS JetStream server (`nats`) that
 * then also holds the app's Log (the shop puts its chat history on a `nats://` Bus's server). The
 * lab does not start NATS: an unreachable server skips the config with the reason.
 *
 * @example
 * ```ts
 * await prepareBus('nats'); // { spec: 'nats://127.0.0.1:4222?prefix=lab:' }
 * ```
 */
export async function prepareBus(
  bus: 'ipc' | 'nats',
  env: NodeJS.ProcessEnv = process.env,
): Promise<LabBusHandle> {
  if (bus === 'ipc') return { spec: 'ipc:' };
  const url = env[LAB_NATS_ENV] || DEFAULT_NATS_URL;
  const m = /^nats:\/\/([^:/?#]+):(\d+)\/?$/.exec(url);
  if (!m) return { skipped: `${LAB_NATS_ENV} must be like nats://127.0.0.1:4222 (got ${url})` };
  if (!(await reachable(m[1]!, Number(m[2]))))
    return { skipped: `no NATS server at ${url} (start nats-server -js, or set ${LAB_NATS_ENV})` };
  return { spec: `${url}?prefix=lab:` };
}
