import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { StatelineError } from 'stateline/errors';
import { runIn } from './ip-command.js';
import type { NetHost, NetTopology } from './topology.js';

/** What {@link NetFaults.impair} does to a link: `delayMs` ± `jitterMs` one way, `lossPct` both ways. */
export interface Impairment {
  delayMs: number;
  jitterMs?: number;
  lossPct?: number;
}

/** A locally administered MAC that no host of a topology has. */
const NOWHERE = '02:00:00:00:00:01';

/** The nftables tables this module owns in a host: kernel loss, and the redirect to a relay. */
const LOSS_TABLE = 'sl_loss';
const RELAY_TABLE = 'sl_relay';

/** nftables scripts written so far (their file names). */
let scripts = 0;

/** The relay's process entry (from the sources under tsx: the built one). */
const RELAY_MAIN = fileURLToPath(
  new URL(
    import.meta.url.endsWith('.ts') ? '../../dist/netns/delay-relay-main.js' : './delay-relay-main.js',
    import.meta.url,
  ),
);

/** Packets from a host to `dst` dropped with probability `lossPct` %; `owner` is the fault's subject. */
interface LossRule {
  owner: string;
  dst: string;
  lossPct: number;
}

/** A delay relay in `peer`'s host for `host`'s connections to `peer`'s `port`. */
interface Relay {
  host: string;
  peer: string;
  port: number;
  listenPort: number;
  child: ChildProcess;
  lines: Interface;
  /** The host whose impairment set its delay (null: 0 ms). */
  owner: string | null;
}

/**
 * Network faults between hosts of a {@link NetTopology}, made without `sch_netem` (which some
 * kernels lack). A partition pins the peer's address to a MAC no host has, on both sides (packets
 * silently lost). An impairment's loss is the kernel's: an nftables rule in each host's `output`
 * drops that share of the packets to the other (`numgen random`), so TCP retransmits as on a
 * lossy link. Its delay comes from a userspace relay (`DelayRelay`) that must already be in the
 * path: {@link NetFaults.interpose} starts one in the peer's host and redirects the host's
 * connections to the peer's port into it (nftables DNAT), before the processes connect, at 0 ms;
 * an impairment then holds each chunk toward the peer for the delay ± jitter (in order), which
 * applies to connections already open. Packets to other hosts are untouched, so an instance cut
 * from Redis still answers the gateway.
 *
 * @example
 * ```ts
 * const faults = new NetFaults(net);
 * await faults.interpose('i2', ['redis'], 6379); // before i2 connects to Redis
 * await faults.partition('i2', ['redis']);         // 100 % loss both ways
 * await faults.heal('i2');
 * await faults.impair('i2', ['redis'], { delayMs: 50, jitterMs: 10, lossPct: 1 });
 * await faults.healAll();
 * await faults.close();                            // relays and redirects gone
 * ```
 */
export class NetFaults {
  private readonly losses = new Map<string, LossRule[]>();
  private readonly relays: Relay[] = [];
  /** Cut links: `${owner} ${host} ${dst}`. */
  private readonly cuts = new Set<string>();
  /** Per host, the nftables change running or last run (see {@link replaceTable}). */
  private readonly queues = new Map<string, Promise<void>>();

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
   * Puts a delay relay between `host` and each of `to` for TCP to `port`: the relay runs in the
   * peer's host (listening on the peer's address, forwarding to its `port`), and `host`'s new
   * connections to `<peer>:<port>` are redirected to it. Call it before `host`'s processes
   * connect: connections opened earlier bypass it. It adds no delay until {@link impair}.
   */
  async interpose(host: string, to: readonly string[], port: number): Promise<void> {
    if (!Number.isSafeInteger(port) || port < 1 || port > 65535)
      throw new StatelineError('SL_ERR_INVALID_OPTION', `port must be 1–65535 (got ${port})`);
    for (const p of this.peers(host, to)) {
      if (this.relays.some((r) => r.host === host && r.peer === p.name && r.port === port)) continue;
      const [cmd, args] = this.net.command(p.name, process.execPath, [
        RELAY_MAIN,
        p.address,
        p.address,
        String(port),
      ]);
      const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] });
      const lines = createInterface({ input: child.stdout! });
      const first = await Promise.race([
        once(lines, 'line').then(([l]) => String(l)),
        once(child, 'exit').then(() => ''),
        new Promise<string>((r) => setTimeout(() => r(''), 10_000).unref()),
      ]);
      const listenPort = Number((JSON.parse(first || '{}') as { port?: unknown }).port);
      if (!Number.isSafeInteger(listenPort) || listenPort <= 0) {
        child.kill('SIGKILL');
        throw new StatelineError('SL_ERR_INVALID_OPTION', `the delay relay in ${p.name} did not start`);
      }
      this.relays.push({ host, peer: p.name, port, listenPort, child, lines, owner: null });
    }
    await this.applyRelays(host);
  }

  /**
   * Slows and thins the link between `host` and each of `from`: the kernel drops `lossPct` % of
   * the packets each way; the bytes `host` sends through the relays {@link interpose} put there
   * are held `delayMs` ± `jitterMs` (the answers are not), so a round trip grows by about
   * `delayMs`. A delay on a link with no relay throws `SL_ERR_INVALID_OPTION`.
   */
  async impair(host: string, from: readonly string[], i: Impairment): Promise<void> {
    const ok = (n: number | undefined, max: number) =>
      n === undefined || (Number.isFinite(n) && n >= 0 && n <= max);
    if (!ok(i.delayMs, 60_000) || !ok(i.jitterMs, 60_000) || !ok(i.lossPct, 100))
      throw new StatelineError('SL_ERR_INVALID_OPTION', 'delay and jitter are 0–60000 ms, loss 0–100 %');
    const self = this.net.host(host);
    const peers = this.peers(host, from);
    const delayed = i.delayMs > 0 || (i.jitterMs ?? 0) > 0;
    const relays = this.relays.filter((r) => r.host === host && peers.some((p) => p.name === r.peer));
    const bare = peers.find((p) => !relays.some((r) => r.peer === p.name));
    if (delayed && bare)
      throw new StatelineError(
        'SL_ERR_INVALID_OPTION',
        `no delay relay between ${host} and ${bare.name}: interpose one before the processes connect`,
      );
    const lossPct = i.lossPct ?? 0;
    if (lossPct > 0) {
      for (const p of peers) {
        this.pushLoss(host, { owner: host, dst: p.address, lossPct });
        this.pushLoss(p.name, { owner: host, dst: self.address, lossPct });
      }
      await Promise.all([host, ...peers.map((p) => p.name)].map((h) => this.applyLoss(h)));
    }
    for (const r of relays) {
      r.owner = delayed ? host : null;
      await this.setDelay(r, { delayMs: i.delayMs, jitterMs: i.jitterMs ?? 0 });
    }
  }

  /** Removes every fault made with `host` as its subject (its relays stay, at 0 ms). */
  async heal(host: string): Promise<void> {
    await this.uncut(host);
    await this.unimpair(host);
  }

  /** Removes every fault (the relays stay, at 0 ms). */
  async healAll(): Promise<void> {
    await this.uncut(null);
    await this.unimpair(null);
  }

  /** Heals everything, stops every relay and removes the redirects to them (idempotent). */
  async close(): Promise<void> {
    await this.healAll().catch(() => undefined);
    const hosts = new Set(this.relays.map((r) => r.host));
    for (const r of this.relays.splice(0)) {
      r.lines.close();
      r.child.stdin?.end();
      r.child.kill('SIGKILL');
    }
    for (const h of hosts) await this.applyRelays(h).catch(() => undefined);
  }

  private async unimpair(owner: string | null): Promise<void> {
    const touched: string[] = [];
    for (const [h, list] of this.losses) {
      const kept = list.filter((r) => owner !== null && r.owner !== owner);
      if (kept.length !== list.length) {
        this.losses.set(h, kept);
        touched.push(h);
      }
    }
    await Promise.all(touched.map((h) => this.applyLoss(h)));
    for (const r of this.relays)
      if (r.owner !== null && (owner === null || r.owner === owner)) {
        r.owner = null;
        await this.setDelay(r, { delayMs: 0, jitterMs: 0 });
      }
  }

  private async setDelay(r: Relay, d: { delayMs: number; jitterMs: number }): Promise<void> {
    if (r.child.exitCode !== null || r.child.signalCode !== null)
      throw new StatelineError('SL_ERR_INVALID_OPTION', `the delay relay in ${r.peer} has exited`);
    const ack = once(r.lines, 'line');
    r.child.stdin!.write(`${JSON.stringify(d)}\n`);
    await ack;
  }

  private peers(host: string, from: readonly string[]): NetHost[] {
    const peers = from.map((f) => this.net.host(f)).filter((p) => p.name !== host);
    if (peers.length === 0)
      throw new StatelineError('SL_ERR_INVALID_OPTION', `a fault on ${host} needs another host`);
    return peers;
  }

  private pushLoss(h: string, r: LossRule): void {
    const list = this.losses.get(h) ?? [];
    this.losses.set(h, [...list.filter((x) => x.dst !== r.dst), r]);
  }

  /**
   * Replaces nftables table `table` in host `h` with one chain made of `rules()` (none: no table)
   * in one atomic `nft -f` transaction. Calls for one host run in turn and read the rules when
   * their turn comes, so the last one always installs the latest state.
   */
  private replaceTable(h: string, table: string, chain: string, rules: () => string[]): Promise<void> {
    const job = async () => {
      const list = rules();
      // Declaring the table first makes its deletion valid whether it existed or not.
      const script = [`table ip ${table} {}`, `delete table ip ${table}`];
      if (list.length > 0)
        script.push(
          `table ip ${table} {`,
          `  chain out {`,
          `    ${chain}`,
          ...list.map((r) => `    ${r}`),
          '  }',
          '}',
        );
      const file = join(tmpdir(), `stateline-nft-${process.pid}-${++scripts}.nft`);
      await writeFile(file, `${script.join('\n')}\n`);
      try {
        await runIn(this.net.host(h).ns, 'nft', ['-f', file]);
      } finally {
        await rm(file, { force: true });
      }
    };
    const next = (this.queues.get(h) ?? Promise.resolve()).then(job);
    this.queues.set(
      h,
      next.catch(() => undefined),
    );
    return next;
  }

  /** Host `h`'s loss table: `lossPct` % of its packets to each rule's address dropped. */
  private applyLoss(h: string): Promise<void> {
    return this.replaceTable(h, LOSS_TABLE, 'type filter hook output priority 0; policy accept;', () =>
      (this.losses.get(h) ?? []).map((r) => {
        // In hundredths of a percent: `numgen random mod 10000 < 100` drops 1 %; 100 % drops all.
        const share = Math.round(r.lossPct * 100);
        return `ip daddr ${r.dst} ${share >= 10_000 ? '' : `numgen random mod 10000 < ${share} `}drop`;
      }),
    );
  }

  /** Host `h`'s redirect table: TCP to each relayed `<peer>:<port>` goes to its relay. */
  private applyRelays(h: string): Promise<void> {
    return this.replaceTable(h, RELAY_TABLE, 'type nat hook output priority -100; policy accept;', () =>
      this.relays
        .filter((r) => r.host === h)
        .map((r) => {
          const peer = this.net.host(r.peer).address;
          return `ip daddr ${peer} tcp dport ${r.port} dnat to ${peer}:${r.listenPort}`;
        }),
    );
  }
}

/**
 * Why {@link NetFaults.impair} cannot run here, or null when it can: it needs `nft` (nftables)
 * in the hosts. Probed by adding and deleting a table in the first host.
 *
 * @example
 * ```ts
 * if ((await impairUnavailable(net)) === null) await faults.impair('i1', ['redis'], { delayMs: 50 });
 * ```
 */
export async function impairUnavailable(net: NetTopology): Promise<string | null> {
  const ns = net.hosts[0]?.ns;
  if (ns === undefined) return 'the topology has no host';
  try {
    await runIn(ns, 'nft', ['add', 'table', 'ip', 'sl_probe']);
    await runIn(ns, 'nft', ['delete', 'table', 'ip', 'sl_probe']);
    return null;
  } catch (err) {
    return `nftables is not usable here (${(err as Error).message.replace(/^.*: /, '')})`;
  }
}
