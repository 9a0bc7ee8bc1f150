/**
 * A strategy switch under load (`stateline lab --configs memory/sticky/backup>server`): the
 * reference shop on a real cluster (gateway + 2 instances), each instance restarted in turn from
 * `memory` with backup replication and sticky routing into `server`, with the previous
 * configuration's cookies taken over (`fromStateline`). report.json must show the switch with no
 * session lost and no update lost. The shop must be built (`npm run build`).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseConfigs } from '../src/run/config.js';
import type { LabReport } from '../src/run/report.js';
import { validateReport } from '../src/run/report-schema.js';
import { runLab } from '../src/run/run-lab.js';

const SHOP = new URL('../../../apps/shop/dist/server.js', import.meta.url).pathname;
const out = mkdtempSync(join(tmpdir(), 'lab-switch-'));
after(() => rmSync(out, { recursive: true, force: true }));

describe('lab strategy switch', () => {
  it('memory/sticky/backup>server: a rolling restart into another strategy loses no session and no update', async () => {
    assert.ok(existsSync(SHOP), `the shop is not built (${SHOP}): run npm run build`);
    await runLab({
      configs: parseConfigs('memory/sticky/backup>server'),
      durationMs: 10_000,
      users: 10,
      instances: 2,
      faults: [],
      seed: 14,
      app: SHOP,
      out,
    });
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as LabReport;
    assert.deepEqual(validateReport(report), []);
    const run = report.runs[0]!;
    assert.equal(run.skipped, null, `ran: ${run.skipped}`);
    assert.ok(run.requests! >= 50, `requests ${run.requests}`);
    assert.ok(run.cart!.addsAcknowledged >= 10, JSON.stringify(run.cart));
    assert.deepEqual(
      run.switch?.steps.map((s) => [s.id, s.upAt !== null]),
      [
        ['i1', true],
        ['i2', true],
      ],
    );
    assert.equal(run.sessionsLost, 0, JSON.stringify(run.sessionsLostBy));
    assert.equal(run.lostUpdates, 0);
    assert.equal(run.switch?.passed, true);
    assert.match(
      readFileSync(join(out, 'report.md'), 'utf8'),
      /\*\*Strategy switch\.\*\* .*0 sessions and 0 updates lost/,
    );
  });
});
