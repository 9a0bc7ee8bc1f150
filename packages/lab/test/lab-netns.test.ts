/**
 * `stateline lab --network netns` on the shop (root needed; the shop must be built): a gateway, 3
 * instances and the lab's Redis each in a network namespace of its own, 30 s of logged-in users,
 * and one instance cut from Redis for 5 s (`partition`), or every instance's link to Redis slowed
 * by 50 ± 10 ms (a delay relay) with 1 % loss (nftables) for 6 s (`latency`). Every guarantee the
 * lab measures must hold, the only errors being 503s with Retry-After, the latency's cost must
 * show in its fault row, and no namespace may be left behind. The shop's workload checks too: 0
 * resurrected sessions (old cookies re-presented after logouts must be anonymous) and 0 chat lines
 * lost or delivered twice to its 6 chat clients.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { IN_CI } from '../../stateline/test/support/services.js';
import { NetTopology, impairUnavailable, runCommand } from '../src/netns/index.js';
import type { LabReport } from '../src/run/report.js';
import { findOnPath } from '../src/run/store-server.js';
import { needNetns } from './netns-support.js';

const BIN = new URL('../bin/stateline.js', import.meta.url).pathname;
const ROOT = new URL('../../../', import.meta.url).pathname;

const noNetns = await needNetns();
const noRedis = findOnPath('redis-server') === null ? 'no redis-server on PATH' : false;
if (noRedis && !noNetns) {
  if (IN_CI) throw new Error('CI=true but there is no redis-server on PATH');
  console.log(`# SKIP ${noRedis}: the netns lab tests are skipped`);
}
const skip = noNetns || noRedis;

/** Runs the lab in namespaces; returns its report and the namespaces its pid left behind. */
async function lab(faults: string): Promise<{ code: number | null; report: LabReport; left: string[] }> {
  const out = mkdtempSync(join(tmpdir(), 'stateline-netns-lab-'));
  try {
    const child = spawn(
      process.execPath,
      [
        BIN,
        'lab',
        '--network',
        'netns',
        '--configs',
        'server/redis',
        '--faults',
        faults,
        '--duration',
        '30s',
        '--users',
        '20',
        '--seed',
        '17',
        '--out',
        out,
      ],
      { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] },
    );
    const [code] = (await once(child, 'exit')) as [number | null];
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as LabReport;
    const left = (await runCommand('ip', ['netns', 'list']))
      .split('\n')
      .map((l) => l.split(' ')[0] ?? '')
      .filter((n) => n.startsWith(`sln-${child.pid}-`));
    return { code, report, left };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

function assertGuarantees(report: LabReport): void {
  const run = report.runs[0]!;
  assert.equal(run.skipped, null);
  assert.equal(run.sessionsLost, 0, 'sessions lost');
  assert.equal(run.lostUpdates, 0, 'lost updates');
  assert.equal(run.duplicateOrders, 0, 'duplicate orders');
  assert.equal(run.orders?.missing, 0, 'acknowledged orders missing');
  // A request that needed the store on the cut instance is answered 503 + Retry-After (or retried
  // elsewhere by the gateway); nothing else fails.
  for (const type of Object.keys(run.errorsByType ?? {}))
    assert.equal(type, '503 SL_ERR_STORE_UNAVAILABLE', `unexpected error type ${type}`);
  // The shop's own checks: a session logged out of (or revoked everywhere) never comes back, and
  // every chat line the hub stored reached each client in the lobby exactly once.
  const c = run.counters ?? {};
  const seen = JSON.stringify(c);
  // Safe and keyed requests the cut instance could not serve were retried elsewhere by the gateway.
  assert.equal(c['errors.retryable'] ?? 0, 0, seen);
  assert.equal(c['verify.failed'], undefined, seen);
  assert.equal(c['session.resurrected'], 0, seen);
  assert.ok((c['session.revokedChecked'] ?? 0) > 0, `no logged-out session was re-presented: ${seen}`);
  assert.equal(c['chat.clients'], 6, seen);
  assert.ok((c['chat.sent'] ?? 0) > 0, seen);
  assert.equal(c['chat.lost'], 0, seen);
  assert.equal(c['chat.duplicates'], 0, seen);
  assert.equal(c['chat.clientsGone'], 0, seen);
}

describe('stateline lab --network netns', { skip, timeout: 180_000 }, () => {
  it('survives an instance cut from Redis for 5 s, and leaves no namespace behind', async () => {
    const { code, report, left } = await lab('partition');
    assert.equal(code, 0);
    const run = report.runs[0]!;
    const fault = run.faults.find((f) => f.kind === 'partition');
    assert.match(fault?.target ?? '', /^i\d from redis-server@10\.213\.0\.\d+:6379 for 5000 ms$/);
    assertGuarantees(report);
    // The cut instance held chat clients (the lab cuts the one with the most WebSockets).
    assert.ok((fault?.impact?.websocketsCut ?? 0) >= 1, JSON.stringify(fault));
    // The cut was real: the instance answered 503s while it could not reach Redis.
    assert.ok(
      (run.errorsByType?.['503 SL_ERR_STORE_UNAVAILABLE'] ?? 0) > 0,
      JSON.stringify(run.errorsByType),
    );
    assert.deepEqual(left, []);
  });

  it('keeps every guarantee with 50 ± 10 ms and 1 % loss between the instances and Redis', async (t) => {
    const probe = await NetTopology.create({ hosts: ['probe'] });
    const why = await impairUnavailable(probe).finally(() => probe.close());
    if (why !== null) return t.skip(why);
    const { code, report, left } = await lab('latency');
    assert.equal(code, 0);
    const run = report.runs[0]!;
    assert.deepEqual(run.faultsNotApplied, []);
    const fault = run.faults.find((f) => f.kind === 'latency');
    assert.match(fault?.target ?? '', /^every instance from redis-server@10\.213\.0\.\d+:6379 for 6000 ms$/);
    assertGuarantees(report);
    const { before, during } = fault!.impact!;
    assert.ok(before && during, 'the fault row has both windows');
    console.log(
      `# latency fault: p50 ${before.p50Ms} → ${during.p50Ms} ms, p99 ${before.p99Ms} → ${during.p99Ms} ms, ` +
        `${before.throughput} → ${during.throughput} req/s, errors ${JSON.stringify(run.errorsByType)}`,
    );
    // The delay was real: not every request needs Redis, but those that do wait ≥ 40 ms for it.
    assert.ok(during.requests > 0 && before.requests > 0);
    assert.ok(during.p50Ms! > before.p50Ms!, `p50 ${before.p50Ms} ms before, ${during.p50Ms} ms during`);
    assert.ok(during.p99Ms! >= 50, `p99 ${during.p99Ms} ms during the latency`);
    assert.deepEqual(left, []);
  });
});
