/**
 * Hub instances as child processes (test/realtime/fixtures/hub-instance.ts), each listening on
 * port 0 and reporting its port over IPC. Every child is SIGKILLed by `killAll()`.
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { IpcRelay } from '../../src/bus/index.js';
import type { BusSpec } from '../../src/bus/types.js';
import type { LogSpec } from '../../src/log/types.js';
import type { HubOptions, HubStats } from '../../src/realtime/types.js';

const FIXTURE = new URL('./fixtures/hub-instance.ts', import.meta.url).pathname;

export interface InstanceConfig {
  log: LogSpec;
  bus: BusSpec;
  hub?: Omit<HubOptions, 'log' | 'bus' | 'server'>;
}

export class Instance {
  port = 0;
  instanceId = '';

  private constructor(readonly proc: ChildProcess) {}

  get url(): string {
    return `ws://127.0.0.1:${this.port}/realtime`;
  }

  static async start(config: InstanceConfig, relay?: IpcRelay): Promise<Instance> {
    const proc = fork(FIXTURE, [JSON.stringify(config)], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    live.add(proc);
    proc.once('exit', () => live.delete(proc));
    relay?.add(proc);
    const inst = new Instance(proc);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('hub instance did not start within 30 s')), 30_000);
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`hub instance exited with ${code} before it was ready`));
      });
      const on = (m: { fx?: string; port?: number; instanceId?: string }) => {
        if (m?.fx !== 'ready') return;
        proc.off('message', on);
        clearTimeout(timer);
        inst.port = m.port!;
        inst.instanceId = m.instanceId!;
        resolve();
      };
      proc.on('message', on);
    });
    return inst;
  }

  /** What the hub counted, and this process's CPU time so far (µs). */
  stats(): Promise<{ stats: HubStats; cpu: NodeJS.CpuUsage }> {
    return new Promise((resolve) => {
      const on = (m: { fx?: string; stats?: HubStats; cpu?: NodeJS.CpuUsage }) => {
        if (m?.fx !== 'stats') return;
        this.proc.off('message', on);
        resolve({ stats: m.stats!, cpu: m.cpu! });
      };
      this.proc.on('message', on);
      this.proc.send({ fx: 'stats' });
    });
  }

  /** SIGKILL, as a crash would; resolves once the process is gone. */
  kill(): Promise<void> {
    return killProc(this.proc);
  }
}

const live = new Set<ChildProcess>();

function killProc(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  const gone = new Promise<void>((r) => p.once('exit', () => r()));
  p.kill('SIGKILL');
  return gone;
}

/** SIGKILLs every instance this process started that is still running. */
export async function killAll(): Promise<void> {
  await Promise.all([...live].map(killProc));
}

/** Starts `n` instances in parallel. */
export function startInstances(n: number, config: InstanceConfig, relay?: IpcRelay): Promise<Instance[]> {
  return Promise.all(Array.from({ length: n }, () => Instance.start(config, relay)));
}
