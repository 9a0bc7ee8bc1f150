import { execFile } from 'node:child_process';
import { SL_ERR_NETNS_FAILED } from '../errors.js';

/**
 * Runs `ip …` or `tc …` (or another system tool) and resolves with its stdout; a non-zero exit
 * rejects with `SL_ERR_NETNS_FAILED` naming the command and its stderr's first line.
 *
 * @example
 * ```ts
 * await run('ip', ['netns', 'add', 'sln123-i1']);
 * ```
 */
export function run(cmd: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 10_000 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      const why = (stderr.split('\n')[0] ?? '').trim() || err.message;
      reject(new SL_ERR_NETNS_FAILED(`${cmd} ${args.join(' ')}: ${why}`));
    });
  });
}

/**
 * Runs a command inside network namespace `ns` (`ip netns exec ns cmd …`).
 *
 * @example
 * ```ts
 * await runIn('sln123-i1', 'tc', ['qdisc', 'show']);
 * ```
 */
export function runIn(ns: string, cmd: string, args: readonly string[]): Promise<string> {
  return run('ip', ['netns', 'exec', ns, cmd, ...args]);
}
