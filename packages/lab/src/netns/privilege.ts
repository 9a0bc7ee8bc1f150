import { execFile } from 'node:child_process';

/**
 * Why this process cannot make network namespaces, or null when it can: it must run as root on
 * Linux with `ip` and `tc` (iproute2) on PATH. Checked by adding and deleting a throwaway
 * namespace, so a container without CAP_SYS_ADMIN is found out too.
 *
 * @example
 * ```ts
 * const why = await netnsUnavailable();
 * if (why) console.log(`skip: ${why}`);
 * ```
 */
export async function netnsUnavailable(): Promise<string | null> {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'network namespaces need root (run as root, as CI does)';
  const probe = `slnprobe${process.pid}`;
  const ok = (cmd: string, args: string[]) =>
    new Promise<string | null>((resolve) =>
      execFile(cmd, args, { timeout: 5000 }, (err, _o, stderr) =>
        resolve(err ? (stderr.trim() || err.message).split('\n')[0]! : null),
      ),
    );
  const tc = await ok('tc', ['-V']);
  if (tc !== null) return `tc (iproute2) is not usable: ${tc}`;
  const add = await ok('ip', ['netns', 'add', probe]);
  if (add !== null) return `cannot create a network namespace: ${add}`;
  await ok('ip', ['netns', 'del', probe]);
  return null;
}
