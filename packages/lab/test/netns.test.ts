/**
 * The network-namespace harness on real namespaces (root needed): hosts reach each other over the
 * bridge, faults cut or slow exactly the links named, and nothing is left behind.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import {
  NetFaults,
  NetTopology,
  netemUnavailable,
  removeStaleNamespaces,
  runCommand,
} from '../src/netns/index.js';
import { needNetns, probe, startEcho } from './netns-support.js';

const skip = await needNetns();
const PORT = 7100;

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

  it('latency adds its delay to the round trip on the impaired link only', async (t) => {
    const noNetem = await netemUnavailable(net);
    if (noNetem !== null) return t.skip(noNetem);
    const faults = new NetFaults(net);
    await faults.impair('a', ['b'], { delayMs: 150, jitterMs: 10 });
    // Connect (SYN → SYN/ACK) and the echo each cross a→b once: ≥ 2 × 140 ms.
    const slow = Number(await probe(net, 'a', 'b', PORT, 3000));
    const fast = Number(await probe(net, 'a', 'c', PORT, 3000));
    assert.ok(slow >= 280, `a→b took ${slow} ms`);
    assert.ok(fast < 140, `a→c took ${fast} ms`);
    await faults.healAll();
    assert.ok(Number(await probe(net, 'a', 'b', PORT)) < 140);
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
  it('removes the namespaces of a harness that died, and leaves a live one’s alone', async () => {
    const live = await NetTopology.create({ hosts: ['x'] });
    try {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', new URL('./fixtures/netns-crash.ts', import.meta.url).pathname],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      const [line] = (await once(child.stdout!, 'data')) as [Buffer];
      const made = JSON.parse(line.toString()) as string[];
      child.kill('SIGKILL');
      await once(child, 'exit');
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
