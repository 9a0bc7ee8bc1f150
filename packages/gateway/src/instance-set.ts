import { StatelineError } from 'stateline/errors';
import { Balancer } from './balancer.js';
import { HealthChecker } from './health.js';
import { Instance } from './instance.js';
import type { ResolvedOptions } from './options.js';
import type { InstanceConfig, InstanceCounts, InstanceInfo, InstanceState } from './types.js';

/** Grace for requests still running on a removed instance before its connections are cut. */
const REMOVE_GRACE_MS = 30_000;

/**
 * The gateway's instances and their state machine: health results (active and passive) move them
 * between `starting`, `up` and `down`; `drain` and `markDown` are the supervisor's levers. Every
 * change of the `up` set is handed to the balancer.
 */
export class InstanceSet {
  readonly balancer: Balancer;
  private readonly byId = new Map<string, Instance>();
  private readonly checkers = new Map<Instance, HealthChecker>();
  /** Per id ever added, kept after removal: a removed process's last retry lands here too. */
  private readonly countsById = new Map<string, InstanceCounts>();
  private closed = false;

  constructor(private readonly options: ResolvedOptions) {
    this.balancer = new Balancer(options.balance, options.balanceFactor, options.virtualNodes);
  }

  add(config: InstanceConfig): void {
    if (this.closed) throw new StatelineError('SL_ERR_CLOSED', 'gateway: add() after close()');
    if (typeof config !== 'object' || config === null) {
      throw new StatelineError('SL_ERR_INVALID_ARGUMENT', 'gateway: add() takes { id, url }');
    }
    const health = this.options.health;
    const counts = this.countsById.get(config.id) ?? { served: 0, errors: 0, retries: 0 };
    const instance = new Instance(config.id, config.url, health ? 'starting' : 'up', this.options, counts);
    this.countsById.set(instance.id, counts);
    const previous = this.byId.get(instance.id);
    if (previous !== undefined) this.forget(previous);
    this.byId.set(instance.id, instance);
    if (health) {
      const checker = new HealthChecker(instance, health, (i, ok) => this.onHealth(i, ok));
      this.checkers.set(instance, checker);
      checker.start();
    } else {
      this.changed();
    }
  }

  remove(id: string): void {
    const instance = this.byId.get(id);
    if (instance !== undefined) this.forget(instance);
  }

  drain(id: string): Promise<void> {
    const instance = this.byId.get(id);
    if (instance === undefined) {
      return Promise.reject(
        new StatelineError('SL_ERR_INVALID_ARGUMENT', `gateway: no instance ${JSON.stringify(id)}`),
      );
    }
    this.setState(instance, 'draining', 'drain');
    return instance.idle();
  }

  /** Unknown ids are ignored: the process may have been removed before it was killed. */
  markDown(id: string): void {
    const instance = this.byId.get(id);
    if (instance === undefined) return;
    instance.passes = 0;
    this.setState(instance, 'down', 'markDown');
  }

  counts(id: string): InstanceCounts | undefined {
    const c = this.countsById.get(id);
    return c && { ...c };
  }

  get(id: string): Instance | undefined {
    return this.byId.get(id);
  }

  instances(): InstanceInfo[] {
    return [...this.byId.values()].map((i) => i.info());
  }

  /** A proxied attempt got no answer from `instance` (refused, reset, timed out): counts toward `fall`. */
  passiveFailure(instance: Instance): void {
    if (this.options.metrics) instance.counts.errors++;
    const health = this.options.health;
    if (!health || instance.removed) return;
    instance.passes = 0;
    if (++instance.failures >= health.fall && instance.state === 'up')
      this.setState(instance, 'down', 'passive');
  }

  /** A proxied attempt got an answer (any status: the instance is live). */
  passiveSuccess(instance: Instance): void {
    if (instance.failures !== 0) instance.failures = 0;
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.byId.values()];
    for (const i of all) {
      this.checkers.get(i)?.stop();
      i.removed = true;
    }
    this.checkers.clear();
    this.byId.clear();
    this.balancer.update([]);
    await Promise.all(all.map((i) => i.dispose(1000)));
  }

  private onHealth(instance: Instance, ok: boolean): void {
    const health = this.options.health;
    if (!health || instance.removed) return;
    if (ok) {
      instance.failures = 0;
      instance.passes++;
      if ((instance.state === 'starting' || instance.state === 'down') && instance.passes >= health.rise) {
        this.setState(instance, 'up', 'health');
      }
    } else {
      instance.passes = 0;
      instance.failures++;
      if (instance.state === 'up' && instance.failures >= health.fall)
        this.setState(instance, 'down', 'health');
    }
  }

  private setState(instance: Instance, to: InstanceState, reason: string): void {
    const from = instance.state;
    if (from === to) return;
    instance.state = to;
    if (from === 'up' || to === 'up') this.changed();
    try {
      this.options.onStateChange?.({ id: instance.id, from, to, reason });
    } catch {
      // A throwing listener must not break routing.
    }
  }

  private forget(instance: Instance): void {
    instance.removed = true;
    this.byId.delete(instance.id);
    this.checkers.get(instance)?.stop();
    this.checkers.delete(instance);
    if (instance.state === 'up') this.changed();
    void instance.dispose(REMOVE_GRACE_MS);
  }

  private changed(): void {
    const routable: Instance[] = [];
    for (const i of this.byId.values()) if (i.state === 'up') routable.push(i);
    this.balancer.update(routable);
  }
}
