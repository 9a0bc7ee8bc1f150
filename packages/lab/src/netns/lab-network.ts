import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { StatelineError } from 'stateline/errors';
import { netnsUnavailable } from './privilege.js';
import { NetTopology } from './topology.js';

/** Set in the lab process that runs inside the topology's `gw` host: the topology's description. */
export const LAB_NETNS_ENV = 'STATELINE_LAB_NETNS';

/**
 * The topology this process was started inside by {@link runLabInNetns}, or null.
 *
 * @example
 * ```ts
 * const net = labTopology(); // in the re-started `stateline lab`
 * ```
 */
export function labTopology(): NetTopology | null {
  const d = process.env[LAB_NETNS_ENV];
  return d ? NetTopology.attach(d) : null;
}

/**
 * `stateline lab --network netns`: makes hosts `gw`, `i1…iN` and `store`, runs `command` (the
 * same `stateline lab …`: script and arguments, for node) again inside `gw` (the gateway and the virtual users live there; each instance and the lab's
 * store server are started in their own host), passes SIGINT/SIGTERM on, and removes every
 * namespace when it ends, whatever its outcome. Resolves with the inner command's exit code.
 * Without the privilege it rejects with one line (`SL_ERR_INVALID_OPTION`).
 *
 * @example
 * ```ts
 * process.exitCode = await runLabInNetns(3, process.argv.slice(1));
 * ```
 */
export async function runLabInNetns(instances: number, command: readonly string[]): Promise<number> {
  const why = await netnsUnavailable();
  if (why !== null) throw new StatelineError('SL_ERR_INVALID_OPTION', `--network netns: ${why}`);
  const hosts = ['gw', ...Array.from({ length: instances }, (_, k) => `i${k + 1}`), 'store'];
  const net = await NetTopology.create({ hosts });
  try {
    const [cmd, args] = net.command('gw', process.execPath, [...process.execArgv, ...command]);
    const child = spawn(cmd, args, {
      stdio: 'inherit',
      env: { ...process.env, [LAB_NETNS_ENV]: net.describe() },
    });
    const pass = (s: NodeJS.Signals) => child.kill(s);
    process.on('SIGINT', pass);
    process.on('SIGTERM', pass);
    try {
      const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
      return code ?? (signal ? 128 + 2 : 1);
    } finally {
      process.off('SIGINT', pass);
      process.off('SIGTERM', pass);
    }
  } finally {
    await net.close();
  }
}
