import { StatelineError } from 'stateline/errors';
import { runIn } from './ip-command.js';
import type { NetHost, NetTopology } from './topology.js';

/** What {@link NetFaults.impair} does to packets: `netem delay <delayMs>ms <jitterMs>ms loss <lossPct>%`. */
export interface Impairment {
  delayMs: number;
  jitterMs?: number;
  lossPct?: number;
}

/** A locally administered MAC that no host of a topology has. */
const NOWHERE = '02:00:00:00:00:01';

/** One shaping rule on a host's eth0: packets to `dst` go through `netem …`. */
interface Rule {
  /** The host whose fault this rule belongs to (heal removes it). */
  owner: string;
  dst: string;
  netem: string[];
}

/**
 * Network faults between hosts of a {@link NetTopology}. A partition pins the peer's address to
 * a MAC no host has, on both sides (packets silently lost, needs no qdisc module); an impairment is
 * `tc` on each host's eth0: a `prio` qdisc with one extra band per rule, a `u32` filter sending
 * packets for the rule's destination into that band, and `netem` on the band (the kernel needs
 * `sch_netem` and `sch_prio`: see {@link netemUnavailable}). Packets to other hosts are
 * untouched, so an instance cut from Redis still answers the gateway.
 *
 * @example
 * ```ts
 * const faults = new NetFaults(net);
 * await faults.partition('i2', ['redis']);         // 100 % loss both ways
 * await faults.heal('i2');
 * await faults.impair('i2', ['redis'], { delayMs: 50, jitterMs: 10, lossPct: 1 });
 * await faults.healAll();
 * ```
 */
export class NetFaults {
  private readonly rules = new Map<string, Rule[]>();
  /** Cut links: `${owner} ${host} ${dst}`. */
  private readonly cuts = new Set<string>();

  constructor(private readonly net: NetTopology) {}

  /** Drops every packet between `host` and each of `from` (both directions) until healed. */
  async partition(host: string, from: readonly string[]): Promise<void> {
    const self = this.net.host(host);
    for (const p of this.peers(host, from)) {
      await this.cut(host, host, p.address);
      await this.cut(host, p.name, self.address);
    }
  }

  private async cut(owner: string, h: string, dst: string): Promise<void> {
    const key = `${owner} ${h} ${dst}`;
    if (this.cuts.has(key)) return;
    // A permanent neighbour entry with a MAC nobody has: frames leave and are dropped unseen, as
    // on a dead link (a blackhole route would fail the sender at once with EINVAL instead).
    await runIn(this.net.host(h).ns, 'ip', [
      'neigh',
      'replace',
      dst,
      'lladdr',
      NOWHERE,
      'nud',
      'permanent',
      'dev',
      'eth0',
    ]);
    this.cuts.add(key);
  }

  private async uncut(owner: string | null): Promise<void> {
    for (const key of [...this.cuts]) {
      const [o, h, dst] = key.split(' ') as [string, string, string];
      if (owner !== null && o !== owner) continue;
      this.cuts.delete(key);
      await runIn(this.net.host(h).ns, 'ip', ['neigh', 'del', dst, 'dev', 'eth0']).catch(() => undefined);
    }
  }

  /**
   * Delays (with jitter) and drops a share of `host`'s packets to each of `from`; the packets back
   * see the same loss but no added delay, so the round trip grows by `delayMs` ± `jitterMs`.
   */
  async impair(host: string, from: readonly string[], i: Impairment): Promise<void> {
    const ok = (n: number | undefined, max: number) =>
      n === undefined || (Number.isFinite(n) && n >= 0 && n <= max);
    if (!ok(i.delayMs, 60_000) || !ok(i.jitterMs, 60_000) || !ok(i.lossPct, 100))
      throw new StatelineError('SL_ERR_INVALID_OPTION', 'delay and jitter are 0–60000 ms, loss 0–100 %');
    const loss = ['loss', `${i.lossPct ?? 0}%`];
    await this.add(host, from, ['delay', `${i.delayMs}ms`, `${i.jitterMs ?? 0}ms`, ...loss], loss);
  }

  /** Removes every fault made with `host` as its subject. */
  async heal(host: string): Promise<void> {
    await this.uncut(host);
    const touched: string[] = [];
    for (const [h, list] of this.rules) {
      const kept = list.filter((r) => r.owner !== host);
      if (kept.length !== list.length) {
        this.rules.set(h, kept);
        touched.push(h);
      }
    }
    for (const h of touched) await this.apply(h);
  }

  /** Removes every fault. */
  async healAll(): Promise<void> {
    await this.uncut(null);
    const hosts = [...this.rules.keys()];
    this.rules.clear();
    for (const h of hosts) await this.apply(h);
  }

  private async add(host: string, from: readonly string[], there: string[], back: string[]): Promise<void> {
    const self = this.net.host(host);
    const peers = this.peers(host, from);
    for (const p of peers) {
      this.push(host, { owner: host, dst: p.address, netem: there });
      this.push(p.name, { owner: host, dst: self.address, netem: back });
    }
    await this.apply(host);
    for (const p of peers) await this.apply(p.name);
  }

  private peers(host: string, from: readonly string[]): NetHost[] {
    const peers = from.map((f) => this.net.host(f)).filter((p) => p.name !== host);
    if (peers.length === 0)
      throw new StatelineError('SL_ERR_INVALID_OPTION', `a fault on ${host} needs another host`);
    return peers;
  }

  private push(h: string, r: Rule): void {
    const list = this.rules.get(h) ?? [];
    this.rules.set(h, [...list.filter((x) => x.dst !== r.dst), r]);
    if ((this.rules.get(h) ?? []).length > 13)
      throw new StatelineError('SL_ERR_INVALID_OPTION', `more than 13 faulty links on ${h}`);
  }

  /** Replaces host `h`'s qdisc with one made from its rules (none: the default qdisc). */
  private async apply(h: string): Promise<void> {
    const ns = this.net.host(h).ns;
    const list = this.rules.get(h) ?? [];
    await runIn(ns, 'tc', ['qdisc', 'del', 'dev', 'eth0', 'root']).catch(() => undefined);
    if (list.length === 0) return;
    // Bands 1–3 keep the default priomap for all other traffic; band 4 + k is rule k's.
    await runIn(ns, 'tc', [
      'qdisc',
      'add',
      'dev',
      'eth0',
      'root',
      'handle',
      '1:',
      'prio',
      'bands',
      String(3 + list.length),
    ]);
    for (const [k, r] of list.entries()) {
      const band = `1:${(4 + k).toString(16)}`;
      await runIn(ns, 'tc', [
        'qdisc',
        'add',
        'dev',
        'eth0',
        'parent',
        band,
        'handle',
        `${(40 + k).toString(16)}:`,
        'netem',
        ...r.netem,
      ]);
      await runIn(ns, 'tc', [
        'filter',
        'add',
        'dev',
        'eth0',
        'parent',
        '1:',
        'protocol',
        'ip',
        'prio',
        '1',
        'u32',
        'match',
        'ip',
        'dst',
        `${r.dst}/32`,
        'flowid',
        band,
      ]);
    }
  }
}

/**
 * Why `tc … netem` cannot run here, or null when it can: some kernels (a Firecracker guest, a
 * slim container host) ship without `sch_netem`/`sch_prio`. Probed on the first host's eth0:
 * call it before any impairment.
 *
 * @example
 * ```ts
 * if ((await netemUnavailable(net)) === null) await faults.impair('i1', ['redis'], { delayMs: 50 });
 * ```
 */
export async function netemUnavailable(net: NetTopology): Promise<string | null> {
  const ns = net.hosts[0]?.ns;
  if (ns === undefined) return 'the topology has no host';
  try {
    await runIn(ns, 'tc', ['qdisc', 'add', 'dev', 'eth0', 'root', 'handle', '1:', 'prio', 'bands', '4']);
    await runIn(ns, 'tc', [
      'qdisc',
      'add',
      'dev',
      'eth0',
      'parent',
      '1:4',
      'handle',
      '40:',
      'netem',
      'delay',
      '1ms',
    ]);
    return null;
  } catch (err) {
    return `this kernel cannot run tc netem (${(err as Error).message.replace(/^.*: /, '')})`;
  } finally {
    await runIn(ns, 'tc', ['qdisc', 'del', 'dev', 'eth0', 'root']).catch(() => undefined);
  }
}
