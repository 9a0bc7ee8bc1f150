/**
 * The network-namespace harness on real namespaces (root needed): hosts reach each other over the
 * bridge, faults cut or slow exactly the links named, and nothing is left behind.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import {
  NetFaults,
  NetTopology,
  impairUnavailable,
  removeStaleNamespaces,
  runCommand,
} from '../src/netns/index.js';
import { needNetns, probe, startEcho } from './netns-support.js';

const skip = await needNetns();
const PORT = 7100;
const PINGER = new URL('./fixtures/net-pinger.mjs', import.meta.url).pathname;

async function namespaces(): Promise<string[]> {
  return (await runCommand('ip', ['netns', 'list'])).split('\n').map((l) => l.split(' ')[0] ?? '');
}

describe('netns harness', { skip }, () => {
  let net: NetTopology;
  const children: ChildProcess[] = [];
  before(async () => {
    net = await NetTopology.create({ hosts: ['a', 'b', 'c'] });
    for (const h of ['a', 'b', 'c']) children.push(await startEcho(net, h, PORT));
  });
  after(async () => {
    await net?.close();
  });

  it('gives each host its own address and no address to the machine’s own namespace', async () => {
    assert.deepEqual(
      net.hosts.map((h) => h.address),
      ['10.213.0.2', '10.213.0.3', '10.213.0.4'],
    );
    const own = await runCommand('ip', ['-4', '-o', 'addr']);
    assert.doesNotMatch(own, /10\.213\.0\./);
    const inB = await runCommand('ip', ['-n', net.host('b').ns, '-4', '-o', 'addr']);
    assert.match(inB, /eth0\s+inet 10\.213\.0\.3\/24/);
    assert.match(await probe(net, 'a', 'b', PORT), /^\d+$/);
    assert.match(await probe(net, 'c', 'a', PORT), /^\d+$/);
  });

  it('a partition cuts only the links named, both ways, until healed', async () => {
    const faults = new NetFaults(net);
    await faults.partition('a', ['b']);
    assert.equal(await probe(net, 'a', 'b', PORT, 800), 'timeout');
    assert.equal(await probe(net, 'b', 'a', PORT, 800), 'timeout');
    assert.match(await probe(net, 'a', 'c', PORT), /^\d+$/);
    assert.match(await probe(net, 'c', 'b', PORT), /^\d+$/);
    await faults.heal('a');
    assert.match(await probe(net, 'a', 'b', PORT), /^\d+$/);
    assert.match(await probe(net, 'b', 'a', PORT), /^\d+$/);
  });

  it('latency adds its delay to the round trip through the relay, on connections already open', async (t) => {
    const noNft = await impairUnavailable(net);
    if (noNft !== null) return t.skip(noNft);
    const faults = new NetFaults(net);
    try {
      await faults.interpose('a', ['b'], PORT);
      // One connection opened before the fault, kept through it.
      const [cmd, args] = net.command('a', process.execPath, [PINGER, net.host('b').address, String(PORT)]);
      const pinger = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] });
      const lines = createInterface({ input: pinger.stdout! })[Symbol.asyncIterator]();
      assert.equal((await lines.next()).value, 'open');
      const ping = async () => {
        pinger.stdin!.write('\n');
        return Number((await lines.next()).value);
      };
      const before = await ping();
      await faults.impair('a', ['b'], { delayMs: 150, jitterMs: 10 });
      const during = await ping();
      // A new connection is slowed too; the link a→c is not.
      const fresh = Number(await probe(net, 'a', 'b', PORT, 3000));
      const other = Number(await probe(net, 'a', 'c', PORT, 3000));
      await faults.heal('a');
      const after = await ping();
      pinger.stdin!.end();
      assert.ok(before < 140, `before: ${before} ms`);
      assert.ok(during >= 140, `the open connection during the fault: ${during} ms`);
      assert.ok(fresh >= 140, `a new connection during the fault: ${fresh} ms`);
      assert.ok(other < 140, `a→c: ${other} ms`);
      assert.ok(after < 140, `after healing: ${after} ms`);
    } finally {
      await faults.close();
    }
    // Without the relay, the link is direct again.
    assert.ok(Number(await probe(net, 'a', 'b', PORT)) < 140);
  });

  it('loss is the kernel dropping packets on the impaired link only, until healed', async (t) => {
    const noNft = await impairUnavailable(net);
    if (noNft !== null) return t.skip(noNft);
    const faults = new NetFaults(net);
    await faults.impair('a', ['b'], { delayMs: 0, lossPct: 100 });
    assert.equal(await probe(net, 'a', 'b', PORT, 800), 'timeout');
    assert.equal(await probe(net, 'b', 'a', PORT, 800), 'timeout');
    assert.match(await probe(net, 'a', 'c', PORT), /^\d+$/);
    await faults.healAll();
    assert.match(await probe(net, 'a', 'b', PORT), /^\d+$/);
    await assert.rejects(faults.impair('a', ['c'], { delayMs: 50 }), /no delay relay between a and c/);
  });

  it('close kills what runs inside and removes every namespace', async () => {
    const mine = [...net.hosts.map((h) => h.ns), net.bridgeNs];
    await net.close();
    for (const c of children) if (c.exitCode === null && c.signalCode === null) await once(c, 'exit');
    const left = await namespaces();
    assert.deepEqual(
      mine.filter((n) => left.includes(n)),
      [],
    );
  });
});

describe('netns harness after a crash', { skip }, () => {
  it('removes the namespaces of a harness that died, whose relays died with it, and leaves a live one’s alone', async () => {
    const live = await NetTopology.create({ hosts: ['x'] });
    try {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', new URL('./fixtures/netns-crash.ts', import.meta.url).pathname],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      const [line] = (await once(child.stdout!, 'data')) as [Buffer];
      const made = JSON.parse(line.toString()) as string[];
      const pidsIn = async (ns: string) => (await runCommand('ip', ['netns', 'pids', ns])).trim();
      assert.notEqual(await pidsIn(made[1]!), '', 'the delay relay runs in b');
      child.kill('SIGKILL');
      await once(child, 'exit');
      // The relay dies with the harness that started it, before any clean-up.
      for (let i = 0; i < 40 && (await pidsIn(made[1]!)) !== ''; i++)
        await new Promise((r) => setTimeout(r, 50));
      assert.equal(await pidsIn(made[1]!), '', 'the delay relay outlived its harness');
      assert.ok(made.every((n) => n.startsWith(`sln-${child.pid}-`)));
      const before = await namespaces();
      assert.ok(
        made.every((n) => before.includes(n)),
        'the crashed harness left its namespaces',
      );
      const removed = await removeStaleNamespaces();
      assert.deepEqual([...removed].sort(), [...made].sort());
      const now = await namespaces();
      assert.ok(now.includes(live.host('x').ns), 'a live harness keeps its namespaces');
      assert.ok(made.every((n) => !now.includes(n)));
    } finally {
      await live.close();
    }
  });
});
