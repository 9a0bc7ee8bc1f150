/**
 * A fault's row in the report: the recorder's figures over a span of whole seconds, and one table
 * row per fault with the window before → the fault's window.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { faultCells, faultMarkdown } from '../src/run/fault-table.js';
import { Recorder } from '../src/run/recorder.js';
import { skippedRun, type RunReport } from '../src/run/report.js';

const figures = (throughput: number, p50Ms: number, p99Ms: number, errors = 0) => ({
  requests: throughput * 6,
  throughput,
  p50Ms,
  p99Ms,
  errors,
  sessionsLost: 0,
  lostUpdates: 0,
});

describe('fault rows', () => {
  it('a window counts the requests, answers, errors and losses of its whole seconds', () => {
    const rec = new Recorder();
    for (let i = 0; i < 4; i++) rec.sent();
    for (const ms of [10, 20, 30, 400]) rec.response(ms);
    rec.error('503 SL_ERR_STORE_UNAVAILABLE');
    rec.sessionLost('logged-out');
    rec.lostUpdate();
    // Everything above fell in second 0 (the test runs well within it, or in second 1 at worst).
    const all = rec.window(0, 2000);
    assert.deepEqual(
      { ...all, throughput: undefined },
      {
        requests: 4,
        throughput: undefined,
        p50Ms: 20,
        p99Ms: 400,
        errors: 1,
        sessionsLost: 1,
        lostUpdates: 1,
      },
    );
    assert.equal(all.throughput, 2);
    const later = rec.window(5000, 6000);
    assert.deepEqual(later, {
      requests: 0,
      throughput: 0,
      p50Ms: null,
      p99Ms: null,
      errors: 0,
      sessionsLost: 0,
      lostUpdates: 0,
    });
    rec.destroy();
  });

  it('one row per fault of each config that ran, before → during', () => {
    const base = skippedRun(
      {
        name: 'server/redis',
        strategy: 'server',
        store: 'redis',
        balance: 'round-robin',
        replication: 'off',
        credentials: 'cookie',
      },
      'x',
    );
    const run: RunReport = {
      ...base,
      skipped: null,
      duplicateOrders: 0,
      faults: [
        {
          at: 22_500,
          kind: 'latency',
          target: 'every instance from redis-server@10.213.0.6:6379 for 6000 ms',
          impact: {
            windowMs: 6000,
            p99MsBefore: 150,
            p99MsDuring: 520,
            errorsDuring: 0,
            before: figures(460, 8.8, 150.7),
            during: figures(160, 67.6, 516.7),
          },
        },
        { at: 10_000, kind: 'kill', target: 'i2' },
      ],
    };
    const { head, rows } = faultCells([run, { ...base, faults: run.faults }]);
    assert.equal(head.length, rows[0]!.length);
    assert.deepEqual(rows, [
      [
        'server/redis',
        'latency',
        '22.5',
        '6',
        '460 → 160',
        '8.8 → 67.6',
        '150.7 → 516.7',
        '0',
        '0',
        '0',
        '0',
      ],
      ['server/redis', 'kill', '10.0', '–', '–', '–', '–', '–', '–', '–', '0'],
    ]);
    assert.match(faultMarkdown([run]), /^\| config \| fault \|.*\n\| --- \|/);
    assert.equal(faultMarkdown([base]), '');
  });
});
