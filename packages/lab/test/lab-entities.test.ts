/**
 * `stateline lab --configs entities`: the reference shop's `workloads.entities` on a real cluster
 * (gateway + 3 instances, SQLite, then the lab's own Redis): virtual users buy the limited drop and edit the shared list
 * while the lab SIGKILLs the instance the workload names as the drop's owner, then starts it
 * again. The report must show the kill on that owner, every whole-run check at zero (nothing
 * oversold, no acknowledged purchase or edit lost, no order missing or made twice) and the
 * takeover times the users waited. The shop must be built (`npm run build`).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseConfigs, runLab, validateReport, type RunReport } from '../src/index.js';

const SHOP = new URL('../../../apps/shop/dist/server.js', import.meta.url).pathname;

const IN_CI = process.env.CI === 'true' || process.env.CI === '1';

/** One entities run: the owner kill happened, every whole-run check is 0, takeover was timed. */
function check(run: RunReport): void {
  assert.equal(run.skipped, null, `ran: ${run.skipped}`);
  assert.equal(run.workload, 'entities');
  const seen = JSON.stringify({ counters: run.counters, timings: run.timings, errors: run.errorsByType });
  const kill = run.faults.find((f) => f.kind === 'kill');
  assert.ok(kill && /^i[1-3]$/.test(kill.target), `the kill ran: ${JSON.stringify(run.faults)}`);
  const c = run.counters!;
  assert.ok(c['drop.purchases']! > 0 && c['list.edits']! > 0, seen);
  assert.equal(c['drop.sold'], c['drop.purchases'], `every acknowledged unit is sold, no other: ${seen}`);
  for (const zero of ['drop.oversold', 'drop.purchasesLost', 'list.editsLost', 'acknowledgedLost'])
    assert.equal(c[zero], 0, `${zero}: ${seen}`);
  assert.equal(c['verify.failed'], undefined, seen);
  assert.equal(run.duplicateOrders, 0, seen);
  assert.deepEqual([run.orders!.missing, run.orders!.auditFailures], [0, 0], seen);
  assert.equal(run.lostUpdates, 0, seen);
  // The users whose calls spanned the kill waited for the new owner, and said how long.
  const takeover = run.timings!.takeover;
  assert.ok(takeover && takeover.count > 0, seen);
  assert.ok(takeover.p99 < 10_000, seen);
}

describe('lab: the entities config', () => {
  it('an owner kill under load: 0 oversold, 0 acknowledged writes lost, takeover timed', async () => {
    assert.ok(existsSync(SHOP), `the shop is not built (${SHOP}): run npm run build`);
    const report = await runLab({
      configs: parseConfigs('entities,entities/redis'),
      durationMs: 9000,
      users: 12,
      instances: 3,
      faults: ['kill', 'restart'],
      seed: 16,
      app: SHOP,
      write: false,
    });
    assert.deepEqual(validateReport(JSON.parse(JSON.stringify(report))), []);
    for (const run of report.runs) {
      // The lab's own redis-server: without one on PATH the Redis run is skipped (a failure in CI).
      if (run.skipped !== null && run.store === 'redis' && !IN_CI) {
        console.log(`# SKIP ${run.config}: ${run.skipped}`);
        continue;
      }
      check(run);
    }
  });
});
