/**
 * Entity instances as child processes (fixtures/entity-instance.ts) and the purchase load the
 * multi-instance tests drive through them: clients that retry a failed call with the same
 * Idempotency-Key on the next instance, as a client behind a balancer does.
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { LogSpec } from '../../src/log/types.js';
import type { StoreSpec } from '../../src/store/types.js';

const FIXTURE = new URL('./fixtures/entity-instance.ts', import.meta.url).pathname;
const live = new Set<ChildProcess>();

export interface FleetConfig {
  store: StoreSpec;
  log: LogSpec;
  leaseTtl: string;
  secret: string;
}

export class EntityProcess {
  port = 0;
  private constructor(
    readonly proc: ChildProcess,
    readonly instanceId: string,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}/entities`;
  }

  static async start(
    config: FleetConfig,
    instanceId: string,
    faults: { appendDelay?: number; dieAfterCalls?: number } = {},
  ): Promise<EntityProcess> {
    const proc = fork(FIXTURE, [JSON.stringify({ ...config, instanceId, ...faults })], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    live.add(proc);
    proc.once('exit', () => live.delete(proc));
    const p = new EntityProcess(proc, instanceId);
    p.port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('entity instance did not start within 30 s')), 30_000);
      proc.once('exit', (code) =>
        reject(new Error(`entity instance exited with ${code} before it was ready`)),
      );
      proc.on('message', (m: { fx?: string; port?: number }) => {
        if (m?.fx !== 'ready') return;
        clearTimeout(timer);
        resolve(m.port!);
      });
    });
    return p;
  }

  owned(): Promise<string[]> {
    return new Promise((resolve) => {
      const on = (m: { fx?: string; keys?: string[] }) => {
        if (m?.fx !== 'owned') return;
        this.proc.off('message', on);
        resolve(m.keys!);
      };
      this.proc.on('message', on);
      this.proc.send({ fx: 'owned' });
    });
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.proc.kill(signal);
  }
}

/** SIGKILLs every instance still running (SIGCONT first, a stopped process keeps its port). */
export function killAll(): void {
  for (const p of live) {
    p.kill('SIGCONT');
    p.kill('SIGKILL');
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface EntityAnswer {
  status: number;
  body: { result?: unknown; code?: string; reason?: string };
}

/** One POST to an entity route; rejects when the connection fails. */
export async function post(
  base: string,
  path: string,
  args: unknown,
  idempotencyKey?: string,
): Promise<EntityAnswer> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (idempotencyKey) headers['idempotency-key'] = idempotencyKey;
  const res = await fetch(`${base}${path}`, { method: 'POST', headers, body: JSON.stringify(args) });
  return { status: res.status, body: (await res.json()) as EntityAnswer['body'] };
}

export interface LoadResult {
  acked: Set<string>;
  soldOut: Set<string>;
  /** Answers other than success or sold out (each retried), by code. */
  retried: Map<string, number>;
  /** Each acknowledged attempt: when it was sent and when it was answered, ms since the epoch. */
  ackTimes: { sent: number; at: number }[];
}

/**
 * `calls` purchases of `key` from `clients` concurrent clients spread over `bases()` (asked again
 * on every attempt: a killed instance drops out). A purchase is retried with its Idempotency-Key
 * until it is acknowledged or sold out.
 */
export async function purchaseLoad(
  bases: () => string[],
  key: string,
  calls: number,
  clients: number,
): Promise<LoadResult> {
  const out: LoadResult = { acked: new Set(), soldOut: new Set(), retried: new Map(), ackTimes: [] };
  let next = 0;
  const deadline = Date.now() + 120_000;
  const client = async (c: number) => {
    for (let i = next++; i < calls; i = next++) {
      const userId = `u${i}`;
      for (let attempt = c + i; ; attempt++) {
        if (Date.now() > deadline) throw new Error(`purchase ${i} got no final answer in 120 s`);
        const list = bases();
        let a: EntityAnswer;
        const sent = Date.now();
        try {
          a = await post(list[attempt % list.length]!, `/drop/${key}/buy`, { userId }, `buy-${i}`);
        } catch {
          out.retried.set('connection', (out.retried.get('connection') ?? 0) + 1);
          await sleep(20);
          continue;
        }
        if (a.status === 200) {
          out.acked.add(userId);
          out.ackTimes.push({ sent, at: Date.now() });
          break;
        }
        if (a.body.code === 'SL_ERR_ENTITY_REJECTED' && a.body.reason === 'SOLD_OUT') {
          out.soldOut.add(userId);
          break;
        }
        out.retried.set(
          a.body.code ?? String(a.status),
          (out.retried.get(a.body.code ?? String(a.status)) ?? 0) + 1,
        );
        await sleep(20);
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, (_, c) => client(c)));
  return out;
}
