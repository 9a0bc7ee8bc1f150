/**
 * The schedule and runner of the network faults without namespaces: when `partition` and
 * `latency` happen, that they are healed after their hold (also when the load ends first), and
 * that without `--network netns` they are listed as not applied.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { faultHoldMs, planFaults, runFaults } from '../src/run/faults.js';
import { parseFaults, parseNetwork } from '../src/run/options.js';
import { OptionError } from '../src/cluster-options.js';

describe('network faults in the lab', () => {
  it('plans partition at ⅙ and latency at ¾, or lists them as not applied with the reason', () => {
    const kinds = parseFaults('partition,latency,kill');
    assert.deepEqual(planFaults(kinds, 30_000, null).plan, [
      { at: 5000, kind: 'partition' },
      { at: 10_000, kind: 'kill' },
      { at: 22_500, kind: 'latency' },
    ]);
    const off = planFaults(kinds, 30_000, null, { partition: 'needs netns', latency: 'no netem' });
    assert.deepEqual(off.plan, [{ at: 10_000, kind: 'kill' }]);
    assert.deepEqual(off.notApplied, [
      { kind: 'partition', reason: 'needs netns' },
      { kind: 'latency', reason: 'no netem' },
    ]);
    assert.equal(faultHoldMs('partition', 30_000), 5000);
    assert.equal(faultHoldMs('partition', 12_000), 2000);
    assert.equal(faultHoldMs('latency', 30_000), 6000);
  });

  it('cuts the victim, holds, heals, and records the target with the hold', async () => {
    const calls: string[] = [];
    const t0 = Date.now();
    const records = await runFaults(
      [{ at: 0, kind: 'partition' }],
      {
        victim: 'i2',
        storeTarget: 'redis-server@10.213.0.6:6379',
        kill: async () => {},
        start: async () => {},
        partition: async (id) => void calls.push(`cut ${id} ${Date.now() - t0}`),
        heal: async (id) => void calls.push(`heal ${id} ${Date.now() - t0}`),
        holdMs: () => 120,
        now: () => Date.now() - t0,
      },
      // The load is already over: the fault is still healed after its hold.
      () => Date.now() - t0 > 10,
    );
    assert.deepEqual(records, [
      { at: records[0]!.at, kind: 'partition', target: 'i2 from redis-server@10.213.0.6:6379 for 120 ms' },
    ]);
    assert.equal(calls.length, 2);
    assert.match(calls[0]!, /^cut i2 /);
    const [cutAt, healAt] = calls.map((c) => Number(c.split(' ')[2]));
    assert.ok(healAt! - cutAt! >= 110, calls.join(', '));
  });

  it('a network fault hits the instance netVictim names; a kill still hits the victim', async () => {
    const calls: string[] = [];
    const asked: string[] = [];
    const records = await runFaults(
      [
        { at: 0, kind: 'partition' },
        { at: 0, kind: 'kill' },
      ],
      {
        victim: 'i1',
        kill: async (id) => void calls.push(`kill ${id}`),
        start: async () => {},
        partition: async (id) => void calls.push(`cut ${id}`),
        heal: async (id) => void calls.push(`heal ${id}`),
        netVictim: (kind) => (asked.push(kind), 'i3'),
        holdMs: () => 1,
        now: () => 0,
      },
      () => false,
    );
    assert.deepEqual(asked, ['partition']);
    assert.deepEqual(calls, ['cut i3', 'heal i3', 'kill i1']);
    assert.deepEqual(
      records.map((r) => r.target),
      ['i3 from store for 1 ms', 'i1'],
    );
  });

  it('heals even when cutting failed, and records the failure', async () => {
    const calls: string[] = [];
    const [r] = await runFaults(
      [{ at: 0, kind: 'latency' }],
      {
        victim: 'i1',
        kill: async () => {},
        start: async () => {},
        impair: async () => {
          throw new Error('no netem');
        },
        heal: async (id) => void calls.push(`heal ${id}`),
        holdMs: () => 10,
        now: () => 0,
      },
      () => false,
    );
    assert.deepEqual(calls, ['heal i1']);
    assert.equal(r!.target, 'i1 from store for 10 ms (failed: no netem)');
  });

  it('--network is loopback or netns', () => {
    assert.equal(parseNetwork('netns'), 'netns');
    assert.throws(() => parseNetwork('vlan'), OptionError);
  });
});
