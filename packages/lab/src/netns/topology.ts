import { StatelineError } from 'stateline/errors';
import { run, runIn } from './ip-command.js';

/** Every namespace a harness makes is named `sln-<pid>-<seq>-<host>`; `<pid>` is its owner's. */
export const NETNS_PREFIX = 'sln-';

/** One host of a {@link NetTopology}: its namespace, its address on the bridge. */
export interface NetHost {
  name: string;
  /** The network namespace the host's processes run in. */
  ns: string;
  /** Its IPv4 address on the shared bridge. */
  address: string;
}

export interface NetTopologyOptions {
  /** Host names, e.g. `['gw', 'i1', 'i2', 'i3', 'redis']`: letters, digits and `-`, 1–12 chars. */
  hosts: readonly string[];
  /** The /24 the hosts get addresses in, as its first three octets (default `10.213.0`). */
  subnet?: string;
}

let seq = 0;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function listNamespaces(): Promise<string[]> {
  const out = await run('ip', ['netns', 'list']);
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n.startsWith(NETNS_PREFIX));
}

/** SIGKILLs every process left in `ns`, then deletes it; a namespace already gone is fine. */
async function removeNamespace(ns: string): Promise<void> {
  const pids = await run('ip', ['netns', 'pids', ns]).catch(() => '');
  for (const p of pids
    .split('\n')
    .map(Number)
    .filter((n) => n > 0)) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await run('ip', ['netns', 'del', ns]).catch(() => undefined);
}

/**
 * Deletes the namespaces a crashed harness left behind: those with this harness's prefix whose
 * owner process no longer exists (a live owner's are left alone). Returns their names.
 *
 * @example
 * ```ts
 * await removeStaleNamespaces(); // ['sln-4242-1-i1', …]
 * ```
 */
export async function removeStaleNamespaces(): Promise<string[]> {
  const stale = (await listNamespaces()).filter((n) => {
    const pid = Number(/^sln-(\d+)-/.exec(n)?.[1]);
    return Number.isSafeInteger(pid) && pid > 0 && !pidAlive(pid);
  });
  for (const ns of stale) await removeNamespace(ns);
  return stale;
}

/**
 * Hosts on one machine: a network namespace per host, each joined by a veth pair to one bridge
 * that lives in a namespace of its own, so no address or interface is added to the machine's
 * own namespace. Host `k` (from 0) gets `<subnet>.<k + 2>`; processes run in a host with
 * {@link NetTopology.command}. {@link NetTopology.close} kills what still runs inside and
 * removes every namespace; {@link NetTopology.create} first removes those of crashed harnesses.
 *
 * @example
 * ```ts
 * const net = await NetTopology.create({ hosts: ['gw', 'i1', 'redis'] });
 * net.host('redis').address; // '10.213.0.4'
 * spawn(...net.command('redis', 'redis-server', ['--bind', net.host('redis').address]));
 * await net.close();
 * ```
 */
export class NetTopology {
  private readonly byName = new Map<string, NetHost>();
  private closed = false;

  private constructor(
    /** The namespace holding the bridge. */
    readonly bridgeNs: string,
    hosts: NetHost[],
    /** False for a view made by {@link NetTopology.attach}: its close removes nothing. */
    private readonly owned = true,
  ) {
    for (const h of hosts) this.byName.set(h.name, h);
  }

  /** Creates the namespaces, links and addresses; on a failure, removes what it made and throws. */
  static async create(o: NetTopologyOptions): Promise<NetTopology> {
    const subnet = o.subnet ?? '10.213.0';
    if (!/^\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(subnet))
      throw new StatelineError('SL_ERR_INVALID_OPTION', `subnet must be like 10.213.0 (got "${subnet}")`);
    if (o.hosts.length < 1 || o.hosts.length > 200)
      throw new StatelineError('SL_ERR_INVALID_OPTION', 'a topology has 1 to 200 hosts');
    for (const h of o.hosts)
      if (!/^[a-z0-9][a-z0-9-]{0,11}$/i.test(h) || h === 'br')
        throw new StatelineError(
          'SL_ERR_INVALID_OPTION',
          `host name "${h}" must be 1–12 letters, digits or -`,
        );
    if (new Set(o.hosts).size !== o.hosts.length)
      throw new StatelineError('SL_ERR_INVALID_OPTION', 'host names must be distinct');
    await removeStaleNamespaces();
    const base = `${NETNS_PREFIX}${process.pid}-${++seq}-`;
    const hosts = o.hosts.map((name, k) => ({ name, ns: `${base}${name}`, address: `${subnet}.${k + 2}` }));
    const net = new NetTopology(`${base}br`, hosts);
    try {
      await run('ip', ['netns', 'add', net.bridgeNs]);
      await runIn(net.bridgeNs, 'ip', ['link', 'add', 'br0', 'type', 'bridge']);
      await runIn(net.bridgeNs, 'ip', ['link', 'set', 'br0', 'up']);
      for (const h of hosts) {
        const peer = `v-${h.name}`;
        await run('ip', ['netns', 'add', h.ns]);
        await run('ip', [
          'link',
          'add',
          'eth0',
          'netns',
          h.ns,
          'type',
          'veth',
          'peer',
          'name',
          peer,
          'netns',
          net.bridgeNs,
        ]);
        await runIn(net.bridgeNs, 'ip', ['link', 'set', peer, 'master', 'br0']);
        await runIn(net.bridgeNs, 'ip', ['link', 'set', peer, 'up']);
        await runIn(h.ns, 'ip', ['link', 'set', 'lo', 'up']);
        await runIn(h.ns, 'ip', ['addr', 'add', `${h.address}/24`, 'dev', 'eth0']);
        await runIn(h.ns, 'ip', ['link', 'set', 'eth0', 'up']);
      }
    } catch (err) {
      await net.close();
      throw err;
    }
    return net;
  }

  /**
   * A view of a topology another process made (from its {@link NetTopology.describe}), e.g. in a
   * child started inside one of its hosts; closing the view leaves the namespaces alone.
   *
   * @example
   * ```ts
   * const net = NetTopology.attach(process.env.STATELINE_LAB_NETNS!);
   * ```
   */
  static attach(description: string): NetTopology {
    const d = JSON.parse(description) as { bridgeNs?: unknown; hosts?: unknown };
    const hosts = Array.isArray(d.hosts) ? (d.hosts as NetHost[]) : [];
    const valid = (h: NetHost) =>
      typeof h.name === 'string' &&
      typeof h.ns === 'string' &&
      h.ns.startsWith(NETNS_PREFIX) &&
      typeof h.address === 'string';
    if (typeof d.bridgeNs !== 'string' || hosts.length === 0 || !hosts.every(valid))
      throw new StatelineError('SL_ERR_INVALID_OPTION', 'not a network topology description');
    return new NetTopology(d.bridgeNs, hosts, false);
  }

  /** This topology as JSON, for {@link NetTopology.attach}. */
  describe(): string {
    return JSON.stringify({ bridgeNs: this.bridgeNs, hosts: this.hosts });
  }

  /**
   * The cluster placement that runs instance `iN` in host `iN` (see `startCluster`'s `placement`).
   *
   * @example
   * ```ts
   * await startCluster({ instances: 3, placement: net.placement() });
   * ```
   */
  placement(): { wrap(id: string): string[]; hostOf(id: string): string } {
    return {
      wrap: (id) => ['ip', 'netns', 'exec', this.host(id).ns],
      hostOf: (id) => this.host(id).address,
    };
  }

  /** The hosts, in the order given. */
  get hosts(): NetHost[] {
    return [...this.byName.values()];
  }

  /** One host by name; an unknown name throws. */
  host(name: string): NetHost {
    const h = this.byName.get(name);
    if (!h) throw new StatelineError('SL_ERR_INVALID_OPTION', `no host "${name}" in this topology`);
    return h;
  }

  /**
   * `[command, args]` that runs `cmd args…` inside host `name`'s namespace, for `spawn`/`execFile`.
   *
   * @example
   * ```ts
   * const [cmd, args] = net.command('i1', process.execPath, ['app.js']);
   * spawn(cmd, args);
   * ```
   */
  command(name: string, cmd: string, args: readonly string[] = []): [string, string[]] {
    return ['ip', ['netns', 'exec', this.host(name).ns, cmd, ...args]];
  }

  /** Kills every process still inside the namespaces and removes them all (idempotent). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (!this.owned) return;
    for (const h of this.byName.values()) await removeNamespace(h.ns);
    await removeNamespace(this.bridgeNs);
  }
}
