import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import { attachIpcRelay, type IpcRelay } from 'stateline/bus';
import { StatelineError } from 'stateline/errors';
import { SL_ERR_NOT_FOUND } from 'stateline/http';
import { INSTANCE_ENV, isSupervisorMessage, type SupervisorMessage } from 'stateline/instance';
import type { InstanceState } from './cluster-status.js';
import { SL_ERR_INSTANCE_FAILED } from './errors.js';

export type { InstanceState };

/**
 * What the supervisor tells the load balancer. `@stateline/gateway`'s gateway has this shape;
 * any other balancer can be adapted to it.
 */
export interface InstanceRegistry {
  add(instance: { id: string; url: string }): void;
  /** Stops routing new requests to `id`; resolves when its in-flight requests are done. */
  drain(id: string): Promise<void>;
  remove(id: string): void;
  /**
   * Stops routing new requests to `id` at once. A promise, when returned, resolves once every
   * balancer in front knows too (HAProxy's runtime API, an nginx reload): a kill waits for it.
   */
  markDown(id: string): void | Promise<void>;
}

/** Longest a kill waits for the balancers to take the instance out before it kills anyway. */
const MARK_DOWN_WAIT = 2000;

export interface SupervisorOptions {
  /** The app module to fork (path or `file:` URL); a `.ts`/`.mts` module runs with tsx. */
  app: string | URL;
  /** How many instances, `i1…iN` (at least 1). */
  instances: number;
  /** Extra environment for every instance, on top of this process's (e.g. `STATELINE_STORE`). */
  env?: Record<string, string | undefined>;
  /** Host the instances listen on and the registry reaches them at (default `127.0.0.1`). */
  host?: string;
  /** Told about every instance that comes up, goes down or drains (usually the gateway). */
  registry?: InstanceRegistry;
  /** Relay the `ipc:` bus between instances (default true). */
  relay?: boolean;
  /** Longest wait for an instance to report it listens (default 20 s). */
  startTimeout?: number;
  /** Longest wait for a graceful stop before SIGKILL (default 15 s). */
  stopTimeout?: number;
  /**
   * On SIGINT/SIGTERM stop every instance gracefully, then exit 0 (default true). Turn it off
   * when the caller handles signals itself; children are SIGKILLed on process exit either way.
   */
  handleSignals?: boolean;
  /**
   * A command prefix each instance runs under, e.g. `['ip', 'netns', 'exec', ns]` to start it in
   * a network namespace (default: none, node runs directly). The IPC channel passes through it.
   */
  wrap?: (id: string) => readonly string[];
  /** The address instance `id` listens on and is reached at (default: {@link host}). */
  hostOf?: (id: string) => string;
  /** What the instances' stdout/stderr do (default `'inherit'`). */
  stdio?: 'inherit' | 'ignore';
}

/** One instance as {@link Supervisor.instances} reports it. */
export interface InstanceInfo {
  id: string;
  state: InstanceState;
  pid: number | null;
  port: number | null;
  url: string | null;
  /** How many times it was started after the first time. */
  restarts: number;
}

interface Slot {
  id: string;
  state: InstanceState;
  child: ChildProcess | null;
  port: number | null;
  restarts: number;
  registered: boolean;
  /** Settles when the current process exits. */
  exited: Promise<void>;
  /** The running start/stop/kill, so concurrent requests for one instance share it. */
  op: Promise<void> | null;
  /** Environment of this instance on top of the supervisor's (set by a restart with `env`). */
  env: Record<string, string | undefined>;
}

/** Events: `state` (info) on every change; `exit` (id, code, signal) when a process ends. */
export interface SupervisorEvents {
  state: [InstanceInfo];
  exit: [string, number | null, NodeJS.Signals | null];
}

const unknown = (id: string) => new SL_ERR_NOT_FOUND(`no instance "${id}"`);

/** The loader flag for TypeScript app modules; tsx must be installed where the lab is. */
function tsxLoader(): string {
  try {
    return import.meta.resolve('tsx');
  } catch (cause) {
    throw new StatelineError(
      'SL_ERR_PEER_DEPENDENCY_MISSING',
      'a TypeScript app module needs the "tsx" package (npm install -D tsx), or build it to JavaScript',
      { cause },
    );
  }
}

/**
 * Runs N processes of an app module as instances `i1…iN`: forks them with their id and the
 * cluster's settings in the environment, waits for each to report its port, registers it with the
 * gateway, relays the `ipc:` bus between them, and stops, kills or restarts one on request. No
 * instance outlives the supervisor: they are SIGKILLed when this process exits, and the instance
 * runtime ({@link runInstance}) exits when its IPC channel to a killed supervisor closes.
 *
 * @example
 * ```ts
 * const gw = createGateway({ balance: 'round-robin' });
 * const sup = new Supervisor({ app: './app.js', instances: 3, registry: gw, env: { STATELINE_STORE: 'sqlite:state.db' } });
 * await sup.start();
 * await sup.kill('i2');   // SIGKILL, for chaos
 * await sup.startInstance('i2');
 * await sup.close();      // graceful stop of all
 * ```
 */
export class Supervisor extends EventEmitter<SupervisorEvents> {
  private readonly slots = new Map<string, Slot>();
  private readonly relay: IpcRelay | null;
  private readonly modulePath: string;
  private readonly execArgv: string[];
  private readonly host: string;
  private closing: Promise<void> | null = null;
  private readonly onExit = () => this.killAll();
  private readonly onSignal = () => {
    void this.close().then(() => process.exit(0));
  };

  constructor(private readonly options: SupervisorOptions) {
    super();
    const n = options.instances;
    if (!Number.isInteger(n) || n < 1)
      throw new StatelineError(
        'SL_ERR_INVALID_OPTION',
        `instances must be a whole number ≥ 1 (got ${String(n)})`,
      );
    const app = options.app;
    this.modulePath = app instanceof URL || app.startsWith('file:') ? fileURLToPath(app) : app;
    this.execArgv = /\.(c|m)?tsx?$/.test(this.modulePath) ? ['--import', tsxLoader()] : [];
    this.host = options.host ?? '127.0.0.1';
    this.relay = options.relay === false ? null : attachIpcRelay();
    for (let i = 1; i <= n; i++) {
      const id = `i${i}`;
      this.slots.set(id, {
        id,
        state: 'down',
        child: null,
        port: null,
        restarts: -1,
        registered: false,
        exited: Promise.resolve(),
        op: null,
        env: {},
      });
    }
    process.on('exit', this.onExit);
    if (options.handleSignals !== false) {
      process.on('SIGINT', this.onSignal);
      process.on('SIGTERM', this.onSignal);
    }
  }

  /**
   * Starts every instance (or the first `count`, the others staying down until started); rejects
   * (after stopping them all) if one fails to come up.
   */
  async start(count?: number): Promise<void> {
    try {
      await Promise.all([...this.slots.keys()].slice(0, count).map((id) => this.startInstance(id)));
    } catch (err) {
      this.killAll();
      throw err;
    }
  }

  /** Every instance, in id order. */
  instances(): InstanceInfo[] {
    return [...this.slots.values()].map((s) => this.info(s));
  }

  /** One instance; undefined for an unknown id. */
  instance(id: string): InstanceInfo | undefined {
    const s = this.slots.get(id);
    return s && this.info(s);
  }

  /** Forks an instance that is down and waits until it listens; a no-op when it is up or starting. */
  startInstance(id: string): Promise<void> {
    const s = this.slot(id);
    return this.exclusive(s, async () => {
      if (s.state !== 'down') return;
      if (this.closing) throw new StatelineError('SL_ERR_CLOSED', 'the supervisor is stopping');
      await this.spawn(s);
    });
  }

  /**
   * SIGKILL, for chaos: the balancers take it out first (the gateway at once, HAProxy or nginx
   * once they confirm, at most 2 s) and only its in-flight requests fail over.
   */
  kill(id: string): Promise<void> {
    const s = this.slot(id);
    // Not queued behind a running stop: a kill must cut a slow drain short.
    const child = s.child;
    if (!child || s.state === 'down') return s.op ?? Promise.resolve();
    const exited = s.exited;
    const told = s.registered ? this.options.registry?.markDown(id) : undefined;
    if (!told) {
      child.kill('SIGKILL');
      return exited;
    }
    // Killed before an external proxy knew, it would keep sending new requests (and the retries
    // of the failed ones) to the dead address until its runtime API or health checks caught up.
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([told.catch(() => {}), new Promise((r) => (timer = setTimeout(r, MARK_DOWN_WAIT)))])
      .finally(() => clearTimeout(timer))
      .then(() => {
        child.kill('SIGKILL');
        return exited;
      });
  }

  /** Graceful stop: no new requests, in-flight ones finish, the process exits (SIGKILL after `stopTimeout`). */
  stop(id: string): Promise<void> {
    const s = this.slot(id);
    return this.exclusive(s, () => this.drainSlot(s));
  }

  /**
   * Graceful stop, then start. With `env`, the instance runs with it on top of the supervisor's
   * environment from then on (a rolling restart into another configuration).
   */
  async restart(id: string, options: { env?: Record<string, string | undefined> } = {}): Promise<void> {
    const s = this.slot(id);
    await this.stop(id);
    if (options.env) s.env = { ...options.env };
    await this.startInstance(id);
  }

  /** Stops every instance gracefully and detaches; the same promise on every call. */
  close(): Promise<void> {
    return (this.closing ??= (async () => {
      await Promise.all(
        [...this.slots.values()].map((s) => this.exclusive(s, () => this.drainSlot(s)).catch(() => {})),
      );
      this.relay?.close();
      process.off('exit', this.onExit);
      process.off('SIGINT', this.onSignal);
      process.off('SIGTERM', this.onSignal);
    })());
  }

  /** SIGKILLs every live instance at once (synchronous: safe in a process 'exit' handler). */
  killAll(): void {
    for (const s of this.slots.values()) {
      if (s.child && s.child.exitCode === null && s.child.signalCode === null) {
        if (s.registered) this.options.registry?.markDown(s.id);
        s.child.kill('SIGKILL');
      }
    }
  }

  private slot(id: string): Slot {
    const s = this.slots.get(id);
    if (!s) throw unknown(id);
    return s;
  }

  private info(s: Slot): InstanceInfo {
    return {
      id: s.id,
      state: s.state,
      pid: s.child?.pid ?? null,
      port: s.port,
      url: s.port === null ? null : this.urlOf(s.id, s.port),
      restarts: Math.max(0, s.restarts),
    };
  }

  private hostOf(id: string): string {
    return this.options.hostOf?.(id) ?? this.host;
  }

  private urlOf(id: string, port: number): string {
    const h = this.hostOf(id);
    return `http://${h.includes(':') ? `[${h}]` : h}:${port}`;
  }

  private setState(s: Slot, state: InstanceState): void {
    if (s.state === state) return;
    s.state = state;
    this.emit('state', this.info(s));
  }

  /** Runs one operation per instance at a time; a later one waits for the earlier. */
  private exclusive(s: Slot, fn: () => Promise<void>): Promise<void> {
    const run = (s.op ?? Promise.resolve()).catch(() => {}).then(fn);
    const mine: Promise<void> = run.finally(() => {
      if (s.op === mine) s.op = null;
    });
    s.op = mine;
    return mine;
  }

  private unregister(s: Slot): void {
    if (!s.registered) return;
    s.registered = false;
    this.options.registry?.markDown(s.id);
    this.options.registry?.remove(s.id);
  }

  private spawn(s: Slot): Promise<void> {
    const o = this.options;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...o.env,
      ...s.env,
      [INSTANCE_ENV.id]: s.id,
      PORT: '0',
      HOST: this.hostOf(s.id),
    };
    const stdio = o.stdio ?? 'inherit';
    const wrap = o.wrap?.(s.id) ?? [];
    const child = fork(this.modulePath, [], {
      env,
      // Under a wrapper, the wrapper is the executable and node comes after its arguments.
      ...(wrap.length > 0
        ? { execPath: wrap[0]!, execArgv: [...wrap.slice(1), process.execPath, ...this.execArgv] }
        : { execArgv: this.execArgv }),
      stdio: ['ignore', stdio, stdio, 'ipc'],
    });
    // Same tick as fork: the instance's bus says hello before anything else can run here.
    this.relay?.add(child);
    s.child = child;
    s.port = null;
    s.restarts++;
    this.setState(s, 'starting');

    s.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        if (s.child === child) {
          s.child = null;
          s.port = null;
          this.unregister(s);
          this.setState(s, 'down');
        }
        this.emit('exit', s.id, code, signal);
        resolve();
      });
    });
    // A failed IPC send or spawn is reported through 'exit' too; never crash the supervisor.
    child.on('error', () => {});

    return new Promise<void>((resolve, reject) => {
      const fail = (why: string) => {
        cleanup();
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        reject(new SL_ERR_INSTANCE_FAILED(`instance ${s.id} (${this.modulePath}) ${why}`));
      };
      const onMessage = (m: unknown) => {
        if (!isSupervisorMessage(m)) return;
        if (m.type === 'failed') return fail(`could not start: ${m.reason}`);
        if (m.type !== 'listening') return;
        cleanup();
        s.port = m.port;
        this.setState(s, 'up');
        o.registry?.add({ id: s.id, url: this.urlOf(s.id, m.port) });
        s.registered = true;
        resolve();
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
        fail(`exited before it listened (${signal ?? `code ${code}`})`);
      const timer = setTimeout(
        () =>
          fail(`did not report listening within ${o.startTimeout ?? 20_000} ms (does it call runInstance?)`),
        o.startTimeout ?? 20_000,
      );
      const cleanup = () => {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  }

  private async drainSlot(s: Slot): Promise<void> {
    const child = s.child;
    if (!child || s.state === 'down') return;
    this.setState(s, 'draining');
    const timeout = this.options.stopTimeout ?? 15_000;
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
    try {
      // The balancer first, so no request is sent to a server that stopped accepting.
      if (s.registered && this.options.registry) {
        let wait: NodeJS.Timeout | undefined;
        await Promise.race([
          this.options.registry.drain(s.id).catch(() => {}),
          new Promise<void>((r) => (wait = setTimeout(r, timeout))),
        ]);
        clearTimeout(wait);
      }
      const drain: SupervisorMessage = { $sl: 'supervisor', type: 'drain' };
      // A starting instance has no drain handler yet; SIGTERM ends it either way.
      if (child.connected && s.port !== null) child.send(drain, undefined, undefined, () => {});
      else child.kill('SIGTERM');
      await s.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}
