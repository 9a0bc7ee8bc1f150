/** One shop instance as a plain process (runInstance on its own, no gateway), for tests that read its output. */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { SHOP_APP, within } from './support.js';

export interface Running {
  url: string;
  child: ChildProcess;
  out: string[];
  stop(): Promise<void>;
}

/** Runs `dist/server.js` as a plain process (runInstance on its own) and waits for its URL. */
export async function runShop(env: Record<string, string>): Promise<Running> {
  const child = spawn(process.execPath, [SHOP_APP], {
    env: { ...process.env, PORT: '0', STATELINE_INSTANCE_ID: 'solo', STATELINE_BUS: 'memory:', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: string[] = [];
  let pending = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    const lines = (pending + d).split('\n');
    pending = lines.pop()!;
    out.push(...lines);
  });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const url = await within(15_000, async () => {
    if (child.exitCode !== null) assert.fail(`the shop exited: ${err}`);
    return out.map((l) => /listening on (http:\/\/\S+)/.exec(l)?.[1]).find(Boolean);
  });
  return {
    url: url!,
    child,
    out,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
