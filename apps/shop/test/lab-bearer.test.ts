/**
 * Must show 5 (issue 15), second half: `stateline lab` with the `bearer` config on the shop. Its
 * virtual users sign in for tokens, call the API with them, refresh them and log out by ending
 * their family, while the lab kills an instance (SIGKILL) a third of the way in: report.json shows
 * 0 client-visible errors and 0 refresh families lost (the workload's counters `tokens.refreshed`
 * and `tokens.familiesLost`).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseConfigs, runLab, validateReport, type LabReport } from '@stateline/lab';
import { SHOP_APP } from './support.js';

const out = mkdtempSync(join(tmpdir(), 'shop-lab-bearer-'));
after(() => rmSync(out, { recursive: true, force: true }));

describe('stateline lab: the bearer config on the shop', () => {
  it('server/bearer with an instance kill: 0 client-visible errors, 0 refresh families lost', async (t) => {
    await runLab({
      configs: parseConfigs('server/bearer'),
      durationMs: 12_000,
      users: 16,
      instances: 3,
      faults: ['kill'],
      seed: 15,
      app: SHOP_APP,
      out,
    });
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as LabReport;
    assert.deepEqual(validateReport(report), []);
    const run = report.runs[0]!;
    assert.equal(run.skipped, null, `ran: ${run.skipped}`);
    assert.equal(run.credentials, 'bearer');
    const seen = JSON.stringify({
      errors: run.errorsByType,
      lost: run.sessionsLostBy,
      counters: run.counters,
      faults: run.faults,
    });
    t.diagnostic(`${run.requests} requests, ${run.retries} retries; ${seen}`);
    assert.equal(run.faults.filter((f) => f.kind === 'kill').length, 1, seen);
    // The users did what the config is about: signed in, called the API, rotated their tokens.
    assert.ok((run.counters?.['tokens.refreshed'] ?? 0) >= 20, seen);
    assert.ok(run.cart!.addsAcknowledged >= 10 && run.orders!.placed >= 1, seen);
    assert.equal(run.errors, 0, seen);
    // Counted (as 0) on every refresh answer: absent would mean the workload stopped counting.
    assert.equal(run.counters?.['tokens.familiesLost'], 0, seen);
    assert.equal(run.sessionsLost, 0, seen);
    assert.equal(run.lostUpdates, 0, seen);
    assert.equal(run.duplicateOrders, 0, seen);
  });
});
