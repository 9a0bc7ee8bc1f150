import { randomUUID } from 'node:crypto';
import type { Bus } from '../bus/types.js';

/** On the wire: heartbeats and goodbyes are the channel's own; `q` carries a message, `a` an answer to one. */
type Wire<Q, A> =
  | { t: 'hb'; from: string; hello?: true }
  | { t: 'bye'; from: string }
  | { t: 'q'; from: string; id?: string; q: Q }
  | { t: 'a'; from: string; id: string; a: A };

export interface PeerChannelOptions<Q, A> {
  /** Bus channel: broadcasts go to `name`, messages for one instance to `name:<instanceId>`. */
  name: string;
  /** This instance's id (unique in the cluster). */
  instanceId: string;
  /** Heartbeat interval (ms); a peer silent for three of them is gone. */
  heartbeat: number;
  /**
   * A peer's message. What it returns (or resolves to) goes back when the peer asked; a throw or
   * a rejection sends nothing (the asker stops waiting at its timeout).
   */
  answer(q: Q, from: string): A | Promise<A>;
  /**
   * The live peers changed: one was first heard, said goodbye or fell silent. `restarted`: peers
   * that said hello again while still listed (a restart faster than their expiry), which lost
   * whatever they held in memory; listed for one call, the others being unchanged.
   */
  onPeersChanged?(restarted?: readonly string[]): void;
}

/** What {@link PeerChannel.ask} gathered; `complete` when every peer asked answered (or `enough` held). */
export interface Answers<A> {
  answers: A[];
  complete: boolean;
  /** Peers asked that were still live and had not answered when the wait ended (timed out). */
  unanswered: string[];
}

/** Once an answer satisfies `when`, the others are waited for at most `ms` more. */
export interface Settle<A> {
  when: (answer: A) => boolean;
  ms: number;
}

interface Pending<A> {
  left: Set<string>;
  answers: A[];
  enough: ((answer: A) => boolean) | undefined;
  settle: Settle<A> | undefined;
  settling: NodeJS.Timeout | undefined;
  /** A peer asked went away before answering. */
  missed: boolean;
  done(complete: boolean): void;
}

/**
 * The instances that share a Bus, as one instance sees them: heartbeats (a joining instance says
 * hello and is answered at once, a closing one says goodbye), the live peers, and messages to one
 * peer or all with their answers gathered under a timeout. At-most-once like the Bus under it: a
 * lost message shows up as a peer that did not answer in time. The memory strategy's replication
 * and its fleet-wide list/revoke each talk over one.
 *
 * @example
 * ```ts
 * const channel = new PeerChannel<string, number>(bus, {
 *   name: 'lengths',
 *   instanceId: 'i1',
 *   heartbeat: 1000,
 *   answer: (word) => word.length,
 * });
 * await channel.start();
 * const { answers } = await channel.ask('hello', 500);
 * ```
 */
export class PeerChannel<Q, A> {
  /** Live peers and when each was last heard. */
  private readonly seen = new Map<string, number>();
  private readonly pending = new Map<string, Pending<A>>();
  private readonly offs: (() => Promise<void>)[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly bus: Bus,
    private readonly o: PeerChannelOptions<Q, A>,
  ) {}

  private direct(id: string): string {
    return `${this.o.name}:${id}`;
  }

  /**
   * Subscribes, says hello, and starts the heartbeat. With `waitForPeers` (ms), resolves once a
   * first peer answered the hello or that long has passed: a restarted instance must know its
   * peers before it answers "nobody holds this record".
   */
  async start(waitForPeers = 0): Promise<void> {
    const on = (raw: string) => this.receive(raw);
    this.offs.push(await this.bus.subscribe(this.o.name, on));
    this.offs.push(await this.bus.subscribe(this.direct(this.o.instanceId), on));
    this.timer = setInterval(() => this.beat(), this.o.heartbeat);
    this.timer.unref();
    this.beat(true);
    const deadline = Date.now() + waitForPeers;
    while (this.seen.size === 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, Math.min(20, deadline - Date.now())));
  }

  /** The live peers (not this instance), sorted; the silent ones are dropped first. */
  peers(): string[] {
    this.expire();
    return [...this.seen.keys()].sort();
  }

  /** Sends `q` to one peer, or to every instance when `to` is omitted; no answer is asked for. */
  tell(q: Q, to?: string): void {
    this.post(to === undefined ? this.o.name : this.direct(to), { t: 'q', from: this.o.instanceId, q });
  }

  /**
   * Sends `q` to the peers `to` (default: every live peer, in one broadcast) and gathers their
   * answers until each has answered, `enough` holds for an answer, `settle.ms` have passed since
   * an answer for which `settle.when` held, or `timeout` ms have passed.
   */
  ask(
    q: Q,
    timeout: number,
    options: { to?: readonly string[]; enough?: (answer: A) => boolean; settle?: Settle<A> } = {},
  ): Promise<Answers<A>> {
    const to = options.to ?? this.peers();
    if (to.length === 0) return Promise.resolve({ answers: [], complete: true, unanswered: [] });
    const id = randomUUID();
    return new Promise((resolve) => {
      const p: Pending<A> = {
        left: new Set(to),
        answers: [],
        enough: options.enough,
        settle: options.settle,
        settling: undefined,
        missed: false,
        done: (complete) => {
          clearTimeout(timer);
          clearTimeout(p.settling);
          this.pending.delete(id);
          resolve({ answers: p.answers, complete, unanswered: [...p.left] });
        },
      };
      const timer = setTimeout(() => p.done(false), timeout);
      this.pending.set(id, p);
      const msg: Wire<Q, A> = { t: 'q', from: this.o.instanceId, id, q };
      const body = JSON.stringify(msg);
      if (options.to) for (const peer of to) this.send(this.direct(peer), body);
      else this.send(this.o.name, body);
    });
  }

  private post(channel: string, msg: Wire<Q, A>): void {
    this.send(channel, JSON.stringify(msg));
  }

  private send(channel: string, body: string): void {
    this.bus.publish(channel, body).catch(() => {
      // At-most-once: a lost message shows up as a peer that did not answer in time.
    });
  }

  private beat(hello = false): void {
    this.expire();
    this.post(
      this.o.name,
      hello ? { t: 'hb', from: this.o.instanceId, hello } : { t: 'hb', from: this.o.instanceId },
    );
  }

  private receive(raw: string): void {
    let m: Wire<Q, A>;
    try {
      m = JSON.parse(raw) as Wire<Q, A>;
    } catch {
      return;
    }
    if (!m || typeof m !== 'object' || typeof m.from !== 'string' || m.from === this.o.instanceId) return;
    if (m.t === 'bye') {
      if (this.seen.delete(m.from)) this.gone([m.from]);
      return;
    }
    const isNew = !this.seen.has(m.from);
    this.seen.set(m.from, Date.now());
    if (isNew) this.o.onPeersChanged?.();
    // A hello from a peer still listed: it restarted under the same id before it was declared gone.
    else if (m.t === 'hb' && m.hello) this.o.onPeersChanged?.([m.from]);
    switch (m.t) {
      case 'hb':
        if (m.hello) this.post(this.direct(m.from), { t: 'hb', from: this.o.instanceId });
        return;
      case 'q':
        return this.respond(m.q, m.from, m.id);
      case 'a': {
        const p = this.pending.get(m.id);
        if (!p) return;
        p.answers.push(m.a);
        p.left.delete(m.from);
        if (p.enough?.(m.a)) p.done(true);
        else if (p.left.size === 0) p.done(!p.missed);
        else if (p.settle && !p.settling && p.settle.when(m.a))
          p.settling = setTimeout(() => p.done(false), p.settle.ms);
        return;
      }
    }
  }

  private respond(q: Q, from: string, id: string | undefined): void {
    let answer: A | Promise<A>;
    try {
      answer = this.o.answer(q, from);
    } catch {
      return;
    }
    Promise.resolve(answer).then(
      (a) => {
        if (typeof id === 'string') this.post(this.direct(from), { t: 'a', from: this.o.instanceId, id, a });
      },
      () => {},
    );
  }

  /** Drops the peers silent for three heartbeats. */
  private expire(): void {
    const cutoff = Date.now() - 3 * this.o.heartbeat;
    const silent = [...this.seen].filter(([, at]) => at < cutoff).map(([id]) => id);
    for (const id of silent) this.seen.delete(id);
    if (silent.length > 0) this.gone(silent);
  }

  /** Peers that left answer nothing: no ask waits for them any longer. */
  private gone(ids: string[]): void {
    for (const p of [...this.pending.values()]) {
      for (const id of ids) if (p.left.delete(id)) p.missed = true;
      if (p.left.size === 0) p.done(false);
    }
    this.o.onPeersChanged?.();
  }

  /** Says goodbye (peers stop waiting for this instance at once) and stops; open asks end incomplete. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.bus
      .publish(this.o.name, JSON.stringify({ t: 'bye', from: this.o.instanceId }))
      .catch(() => {});
    for (const off of this.offs.splice(0)) await off().catch(() => {});
    for (const p of [...this.pending.values()]) p.done(false);
  }
}
