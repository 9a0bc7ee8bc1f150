import type { ClusterEvent, HistorySample } from './cluster-status.js';
import type { InstanceInfo, Supervisor } from './supervisor.js';

/** Seconds of samples and events kept: what the dashboard's chart shows when it is opened. */
export const HISTORY_S = 60;

/**
 * What the cluster did lately, kept in the lab process so a dashboard opened late still sees it:
 * one sample of every instance's cumulative served and error counts a second, and the instances'
 * process events (an exit, by signal or code; a start after the first). Each event is also handed
 * to `onEvent` (the `stateline up` console prints it). Samples and events older than
 * {@link HISTORY_S} seconds are dropped.
 *
 * @example
 * ```ts
 * const history = new ClusterHistory(sup, () => clusterStatus(control).instances, (e) => console.error(e.text));
 * history.snapshot(); // { samples: [{ t, served: { i1: 12 }, errors: { i1: 0 } }, …], events: […] }
 * history.close();
 * ```
 */
export class ClusterHistory {
  private readonly samples: HistorySample[] = [];
  private readonly events: ClusterEvent[] = [];
  private readonly timer: ReturnType<typeof setInterval>;
  private readonly onExit = (id: string, code: number | null, signal: NodeJS.Signals | null) =>
    this.add({
      id,
      kind: 'down',
      text: `${id} ${signal === 'SIGKILL' ? 'was killed' : 'exited'} (${signal ?? `code ${code ?? '?'}`})`,
    });
  private readonly onState = (info: InstanceInfo) => {
    if (info.state === 'up' && info.restarts > 0)
      this.add({ id: info.id, kind: 'up', text: `${info.id} restarted (pid ${info.pid ?? '?'})` });
  };

  constructor(
    private readonly supervisor: Supervisor,
    private readonly counts: () => readonly { id: string; served: number; errors: number }[],
    private readonly onEvent: (e: ClusterEvent) => void = () => {},
    private readonly now: () => number = Date.now,
    intervalMs = 1000,
  ) {
    supervisor.on('exit', this.onExit);
    supervisor.on('state', this.onState);
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  /** Takes one sample now (the timer does this every second). */
  sample(): void {
    const served: Record<string, number> = {};
    const errors: Record<string, number> = {};
    for (const i of this.counts()) {
      served[i.id] = i.served;
      errors[i.id] = i.errors;
    }
    this.samples.push({ t: this.now(), served, errors });
    this.trim();
  }

  /** The samples and events of the last {@link HISTORY_S} seconds, oldest first. */
  snapshot(): { samples: HistorySample[]; events: ClusterEvent[] } {
    this.trim();
    return { samples: [...this.samples], events: [...this.events] };
  }

  /** The events of the last {@link HISTORY_S} seconds, oldest first. */
  recentEvents(): ClusterEvent[] {
    this.trim();
    return [...this.events];
  }

  close(): void {
    clearInterval(this.timer);
    this.supervisor.off('exit', this.onExit);
    this.supervisor.off('state', this.onState);
  }

  private add(e: Omit<ClusterEvent, 't'>): void {
    const event = { t: this.now(), ...e };
    this.events.push(event);
    this.trim();
    this.onEvent(event);
  }

  private trim(): void {
    // One sample more than the window, so the oldest rate on the chart has a start.
    const oldest = this.now() - (HISTORY_S + 1) * 1000;
    while ((this.samples[0]?.t ?? Infinity) < oldest) this.samples.shift();
    while ((this.events[0]?.t ?? Infinity) < oldest) this.events.shift();
  }
}
