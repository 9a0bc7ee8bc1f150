/** Runs an instance as its own node process and reads what it prints, for the runtime's process tests. */
import { spawn, type ChildProcess } from 'node:child_process';

export interface InstanceProcess {
  readonly child: ChildProcess;
  /** Everything printed to stdout so far. */
  stdout(): string;
  /** Everything printed to stderr so far. */
  stderr(): string;
  /** Resolves with the exit code (a signal counts as null). */
  readonly exited: Promise<number | null>;
  /** Resolves with the URL of the `listening on` line; rejects if the process exits first. */
  listening(): Promise<string>;
}

/**
 * Starts `node <args>` with `PORT=0`; `ipc` forks it with a channel, as a supervisor would. `npm_*`
 * variables (set when the tests run under `npm test`) are dropped so npm inside never sees them.
 */
export function startNode(
  args: string[],
  { cwd, env = {}, ipc = false }: { cwd?: string; env?: Record<string, string>; ipc?: boolean } = {},
): InstanceProcess {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('npm_')));
  const child = spawn(process.execPath, args, {
    cwd,
    env: { ...base, PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe', ...(ipc ? (['ipc'] as const) : [])],
  });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    listening: () =>
      new Promise<string>((resolve, reject) => {
        const look = () => {
          const url = /listening on (http:\/\/\S+)/.exec(out)?.[1];
          if (url) return done(() => resolve(url));
          if (child.exitCode !== null) done(() => reject(new Error(`exited ${child.exitCode}: ${err}`)));
        };
        const done = (settle: () => void) => {
          child.stdout!.off('data', look);
          child.off('exit', look);
          settle();
        };
        child.stdout!.on('data', look);
        child.on('exit', look);
        look();
      }),
  };
}
