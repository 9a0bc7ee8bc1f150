/**
 * Each counter of the lab can see what it counts: the lab runs the breakable fixture shop
 * (fixtures/lab-broken-app.ts) on a real cluster (gateway + 2 instances, SQLite) for 4 s per case.
 * Correct, with an instance killed and restarted: no session lost, no update lost, no order made
 * twice. With writes dropped: lost updates. Without idempotency (and a crash after the effect):
 * duplicate orders. With sessions deleted: lost sessions. With old copies of carts served: stale
 * reads, nothing else. Every report passes the schema check.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfigs } from '../src/run/config.js';
import type { FaultKind } from '../src/run/options.js';
import type { RunReport } from '../src/run/report.js';
import { validateReport } from '../src/run/report-schema.js';
import { runLab } from '../src/run/run-lab.js';

const FIXTURE = new URL('./fixtures/lab-broken-app.ts', import.meta.url).pathname;

async function labRun(brk: string, faults: FaultKind[] = []): Promise<RunReport> {
  const report = await runLab({
    configs: parseConfigs('server/sqlite'),
    durationMs: 4000,
    users: 8,
    instances: 2,
    faults,
    seed: 11,
    app: FIXTURE,
    env: { LAB_BREAK: brk },
    write: false,
  });
  assert.deepEqual(validateReport(JSON.parse(JSON.stringify(report))), []);
  const run = report.runs[0]!;
  assert.equal(run.skipped, null, `ran: ${run.skipped}`);
  // The users did what the counters look at (modest numbers: the machine may be busy).
  assert.ok(run.requests! >= 30, `requests ${run.requests}`);
  assert.ok(run.cart!.addsAcknowledged >= 5 && run.cart!.checks >= 5, JSON.stringify(run.cart));
  assert.ok(run.orders!.placed >= 2, JSON.stringify(run.orders));
  return run;
}

describe('lab counters against a breakable shop', () => {
  it('a correct shop, killed and restarted under load: nothing lost, nothing twice', async () => {
    const run = await labRun('', ['kill', 'restart']);
    assert.deepEqual(
      run.faults.map((f) => f.kind),
      ['kill', 'restart'],
    );
    assert.equal(run.sessionsLost, 0, JSON.stringify(run.sessionsLostBy));
    assert.equal(run.lostUpdates, 0);
    assert.equal(run.staleReads, 0);
    assert.equal(run.duplicateOrders, 0);
    assert.equal(run.orders!.missing, 0);
    assert.equal(run.orders!.auditFailures, 0);
    assert.ok(run.storeOpsPerRequest! > 0, 'store operations scraped from /metrics');
    assert.ok(run.bytesPerRequest! > 200, `bytes per request ${run.bytesPerRequest}`);
    assert.ok(run.cache!.notModified > 0, 'ETag revalidation answered 304');
    assert.ok(run.rssMb! > 10 && run.cpuSecondsPer1k! > 0);
    assert.notEqual(run.recoveryMs, undefined);
  });

  it('a Store that drops every 10th write: lost updates', async () => {
    const run = await labRun('drop-writes');
    assert.ok(
      run.lostUpdates! > 0,
      `lost updates ${run.lostUpdates}, ${JSON.stringify({ lostBy: run.sessionsLostBy, cart: run.cart })}`,
    );
    assert.equal(run.staleReads, 0, 'a write that never landed does not come back on a second look');
  });

  it('a shop that shows old copies of carts: stale reads, nothing lost', async () => {
    const run = await labRun('stale-reads');
    assert.ok(run.staleReads! > 0, `stale reads ${run.staleReads}`);
    assert.equal(run.lostUpdates, 0);
    assert.equal(run.sessionsLost, 0, JSON.stringify(run.sessionsLostBy));
    assert.equal(run.duplicateOrders, 0);
  });

  it('a checkout without idempotency, cut after the effect: duplicate orders, nothing else', async () => {
    const run = await labRun('no-idempotency');
    assert.ok(run.duplicateOrders! > 0, `duplicate orders ${run.duplicateOrders}`);
    assert.equal(run.sessionsLost, 0, JSON.stringify(run.sessionsLostBy));
    assert.equal(run.lostUpdates, 0);
  });

  it('sessions that vanish: lost sessions, nothing else', async () => {
    const run = await labRun('lose-sessions');
    assert.ok(run.sessionsLost! > 0, `sessions lost ${run.sessionsLost}`);
    assert.equal(run.sessionsLostBeforeFault, run.sessionsLost, 'no fault: every loss is before one');
    assert.equal(run.lostUpdates, 0);
    assert.equal(run.duplicateOrders, 0);
  });
});
