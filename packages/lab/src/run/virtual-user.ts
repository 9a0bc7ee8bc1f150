import type {
  Workload,
  WorkloadAction,
  WorkloadCredentials,
  WorkloadReport,
  WorkloadUser,
} from 'stateline/instance';
import type { Dispatcher } from 'undici';
import { HttpClient } from './http-client.js';
import type { Random } from './prng.js';
import type { Recorder } from './recorder.js';
import { RequestTrace } from './request-trace.js';

/** What one virtual user needs. */
export interface VirtualUserOptions {
  /** Its number, 1-based. */
  n: number;
  /** What it does: the app module's `workload`. */
  workload: Workload<unknown>;
  /** What it authenticates with (default `cookie`). */
  credentials?: WorkloadCredentials;
  /** The gateway, e.g. `http://127.0.0.1:40123`. */
  base: string;
  dispatcher: Dispatcher;
  rec: Recorder;
  rnd: Random;
  /** True once the load should end; the user finishes its current request and returns. */
  stopped: () => boolean;
  /** The state size given to the workload (`--state-size`), or null. */
  stateSize?: number | null;
  /** Longest wait for one answer (default 10 s). */
  requestTimeout?: number;
}

const THINK_MIN = 10;
const THINK_MAX = 40;
/** Reads after one that disagreed with the acknowledged writes, 50 ms × n apart. */
const REREADS = 3;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** One action, chosen in proportion to the weights. */
function pick<S>(actions: readonly WorkloadAction<S>[], rnd: Random): WorkloadAction<S> {
  const total = actions.reduce((a, x) => a + x.weight, 0);
  let r = rnd.next() * total;
  for (const action of actions) {
    r -= action.weight;
    if (r < 0) return action;
  }
  return actions[actions.length - 1]!;
}

/**
 * One scripted user of an app, driven by the app's {@link Workload}: its own cookie jar and seeded
 * PRNG, requests through the gateway (counted, timed, network errors and 5xx recorded), think time
 * 10–40 ms between actions, and whatever the workload judges (sessions lost, lost updates, stale
 * reads, acknowledged writes, idempotent creates) counted in the {@link Recorder}. It runs
 * `prepare` then one weighted action, again and again until told to stop. An action that throws
 * is recorded as an error of type `<action> threw` and the user goes on.
 *
 * @example
 * ```ts
 * const vu = new VirtualUser({ n: 1, workload, base: cluster.url, dispatcher, rec, rnd: mulberry32(1), stopped: () => Date.now() > end });
 * await vu.run();
 * vu.created; // Map Idempotency-Key → resource ids the app answered with
 * ```
 */
export class VirtualUser {
  readonly n: number;
  /** Every resource id the app answered an idempotent create with, by Idempotency-Key. */
  readonly created = new Map<string, Set<string>>();
  private readonly http: HttpClient;
  private readonly user: WorkloadUser;
  private memory: { state: unknown } | undefined;
  private readonly trace: RequestTrace | null;

  constructor(private readonly o: VirtualUserOptions) {
    this.n = o.n;
    this.trace = RequestTrace.fromEnv(o.n);
    this.http = new HttpClient({
      trace: this.trace,
      base: o.base,
      dispatcher: o.dispatcher,
      random: o.rnd,
      rec: o.rec,
      stopped: o.stopped,
      ...(o.requestTimeout !== undefined ? { requestTimeout: o.requestTimeout } : {}),
    });
    this.user = {
      n: o.n,
      credentials: o.credentials ?? 'cookie',
      stateSize: o.stateSize ?? null,
      http: this.http,
      random: o.rnd,
      report: this.reporter(),
      stopped: o.stopped,
      think: () => (o.stopped() ? Promise.resolve() : sleep(o.rnd.int(THINK_MIN, THINK_MAX))),
      sleep,
      recheck: (first, read, agrees) => this.recheck(first, read, agrees),
    };
  }

  /** The cookies the user holds now (its session, when it still has one). */
  cookies(): string | undefined {
    return this.http.jar.header();
  }

  /** The workload's memory of this user (made by `init` on the first run), for `verify`. */
  state(): unknown {
    this.memory ??= { state: this.o.workload.init(this.user) };
    return this.memory.state;
  }

  async run(): Promise<void> {
    const { workload, stopped } = this.o;
    const state = this.state();
    while (!stopped()) {
      const ready = await this.attempt(
        'prepare',
        async () => (await workload.prepare?.(this.user, state)) ?? true,
      );
      if (!ready) {
        await this.user.think();
        continue;
      }
      if (stopped()) break;
      const action = pick(workload.actions, this.o.rnd);
      await this.attempt(action.name, () => action.run(this.user, state));
      await this.user.think();
    }
  }

  /** Runs one step of the workload; a throw is an error the lab records, not the end of the user. */
  private async attempt<T>(name: string, step: () => Promise<T>): Promise<T | false> {
    try {
      return await step();
    } catch {
      this.o.rec.error(`${name} threw`);
      return false;
    }
  }

  private reporter(): WorkloadReport {
    const { rec } = this.o;
    return {
      unexpected: (a, what) => rec.error(`${a.status} ${a.code || what}`),
      retry: () => void rec.retries++,
      sessionLost: (reason) => {
        rec.sessionLost(reason);
        this.trace?.dump(reason, rec.now());
      },
      lostUpdate: () => rec.lostUpdate(),
      staleRead: () => rec.staleRead(),
      acknowledged: () => void rec.acknowledged++,
      checked: () => void rec.checks++,
      created: (key, id) => {
        rec.created++;
        const ids = this.created.get(key) ?? new Set<string>();
        ids.add(id);
        this.created.set(key, ids);
      },
      count: (name, n) => rec.count(name, n),
      timing: (name, ms) => rec.timing(name, ms),
    };
  }

  private async recheck<T>(
    first: T,
    read: () => Promise<T | null>,
    agrees: (value: T) => boolean,
  ): Promise<T | null> {
    let last = first;
    // Even once the load has ended: a judgement left half-made would count an old copy as a loss.
    for (let i = 1; i <= REREADS; i++) {
      await sleep(50 * i);
      const again = await read();
      if (again === null) break;
      if (agrees(again)) {
        this.o.rec.staleRead();
        return null;
      }
      last = again;
    }
    return last;
  }
}
