/** The lab's last 60 s: samples, process events and the window, on a fake supervisor and clock. */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { ClusterHistory, HISTORY_S } from '../src/cluster-history.js';
import type { ClusterEvent } from '../src/cluster-status.js';
import type { InstanceInfo, Supervisor } from '../src/supervisor.js';

describe('ClusterHistory', () => {
  it('samples counts, turns exits and restarts into events, forgets what is older than the window', () => {
    let now = 1_000_000;
    let served = 0;
    const sup = new EventEmitter();
    const told: ClusterEvent[] = [];
    const h = new ClusterHistory(
      sup as unknown as Supervisor,
      () => [{ id: 'i1', served, errors: 0 }],
      (e) => told.push(e),
      () => now,
      60_000,
    );
    try {
      h.sample();
      served = 5;
      now += 1000;
      h.sample();
      const info = (restarts: number): InstanceInfo =>
        ({ id: 'i1', state: 'up', pid: 42, port: 1, url: null, restarts }) as InstanceInfo;
      sup.emit('state', info(0)); // the first start is no event
      sup.emit('exit', 'i1', null, 'SIGKILL');
      sup.emit('exit', 'i1', 0, null);
      sup.emit('state', info(1));
      assert.deepEqual(
        told.map((e) => e.text),
        ['i1 was killed (SIGKILL)', 'i1 exited (code 0)', 'i1 restarted (pid 42)'],
      );
      const snap = h.snapshot();
      assert.deepEqual(
        snap.samples.map((s) => s.served.i1),
        [0, 5],
      );
      assert.equal(snap.events.length, 3);
      now += (HISTORY_S + 2) * 1000;
      h.sample();
      assert.deepEqual(
        h.snapshot().samples.map((s) => s.served.i1),
        [5],
        'the older samples left the window',
      );
      assert.deepEqual(h.recentEvents(), []);
      h.close();
      sup.emit('exit', 'i1', null, 'SIGKILL');
      assert.equal(told.length, 3, 'closed: no more events');
    } finally {
      h.close();
    }
  });
});
