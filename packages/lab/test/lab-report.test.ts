/**
 * The lab's report without a cluster: the schema validator (a valid report passes, each kind of
 * damage is named with its path), the recovery and duplicate-order arithmetic, "What this run
 * shows" following the numbers, the tables, the cookie jar, the seeded PRNG, and the header meter
 * against a local server whose exact header bytes are known.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { Agent, fetch } from 'undici';
import { CookieJar } from '../src/run/cookie-jar.js';
import { findings } from '../src/run/findings.js';
import { HeaderMeter } from '../src/run/header-meter.js';
import { sumMetric } from '../src/run/metrics-text.js';
import { mulberry32 } from '../src/run/prng.js';
import { Recorder, recoveryMs } from '../src/run/recorder.js';
import { skippedRun, type LabReport, type RunReport } from '../src/run/report.js';
import { reportMarkdown } from '../src/run/report-md.js';
import { validateReport } from '../src/run/report-schema.js';
import { markdownTable, textTable } from '../src/run/table.js';
import { countDuplicates } from '../src/run/audit.js';

/** Where the sample runs ran: the report's default instance count, no state size. */
const AT = { instances: 3, stateSize: null };

function ranRun(config: string, over: Partial<RunReport> = {}): RunReport {
  const [strategy = 'server', second] = config.split('/');
  return {
    ...skippedRun(
      {
        name: config,
        strategy,
        store: second === 'redis' ? 'redis' : 'sqlite',
        balance: second === 'sticky' ? 'sticky' : 'round-robin',
        replication: 'off',
        credentials: 'cookie',
      },
      'x',
      AT,
    ),
    skipped: null,
    requests: 30,
    throughput: 10,
    latencyMs: { p50: 1, p95: 2, p99: 3, max: 4 },
    errors: 2,
    sessionsLost: 1,
    lostUpdates: 0,
    staleReads: 0,
    duplicateOrders: 0,
    bytesPerRequest: 500,
    storeOpsPerRequest: 1.5,
    rssMb: 120,
    cpuSecondsPer1k: 1.2,
    recoveryMs: 1000,
    faults: [{ at: 1000, kind: 'kill', target: 'i2' }],
    durationMs: 3000,
    startupMs: 2000,
    phasesMs: { audit: 300, close: 400 },
    sessionsLostBeforeFault: 0,
    sessionsLostBy: { loggedOut: 1, cartLost: 0, unauthenticated: 0 },
    errorsByType: { '502 SL_ERR_UPSTREAM_FAILED': 2 },
    retries: 0,
    requestHeaderBytes: 300,
    responseHeaderBytes: 200,
    cache: { conditionalRequests: 4, notModified: 4, nearCacheHitRatio: null },
    orders: { placed: 3, missing: 0, auditFailures: 0 },
    cart: { addsAcknowledged: 5, checks: 6 },
    faultsNotApplied: [{ kind: 'store-restart', reason: 'SQLite is embedded' }],
    timeline: [
      { t: 0, requests: 10, errors: 0, sessionsLost: 0, p99: 2 },
      { t: 1, requests: 10, errors: 2, sessionsLost: 1, p99: 3 },
      { t: 2, requests: 10, errors: 0, sessionsLost: 0, p99: null },
    ],
    counters: {},
    timings: {},
    ...over,
  };
}

function sampleReport(
  runs: RunReport[] = [
    ranRun('server/sqlite'),
    skippedRun(
      {
        name: 'server/redis',
        strategy: 'server',
        store: 'redis',
        balance: 'round-robin',
        replication: 'off',
        credentials: 'cookie',
      },
      'no redis-server on PATH',
      AT,
    ),
  ],
): LabReport {
  return {
    schema: 2,
    startedAt: '2026-11-25T01:00:00.000Z',
    finishedAt: '2026-11-25T01:01:00.000Z',
    aborted: false,
    seed: 7,
    machine: { cpus: 2, memoryGb: 23.4, node: 'v20.20.2', platform: 'linux x64', cpuModel: 'cpu' },
    options: {
      configs: runs.map((r) => r.config),
      durationMs: 3000,
      users: 5,
      instances: 3,
      scale: null,
      stateSizes: null,
      faults: ['kill', 'restart', 'store-restart'],
      seed: 7,
      app: '/x/server.js',
      out: 'lab-report',
    },
    runs,
  };
}

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

describe('report schema 2', () => {
  it('accepts a valid report (and survives a JSON round trip)', () => {
    assert.deepEqual(validateReport(sampleReport()), []);
    assert.deepEqual(validateReport(clone(sampleReport())), []);
  });

  const damage: [string, (r: LabReport & Record<string, unknown>) => void, RegExp][] = [
    [
      'wrong schema version',
      (r) => void ((r as { schema: number }).schema = 1),
      /\$\.schema: expected one of 2/,
    ],
    [
      'missing machine field',
      (r) => void delete (r.machine as Partial<LabReport['machine']>).cpus,
      /\$\.machine\.cpus: missing/,
    ],
    ['unknown top-level field', (r) => void (r.extra = 1), /\$\.extra: unknown field/],
    ['bad date', (r) => void (r.startedAt = 'yesterday'), /\$\.startedAt: expected an ISO 8601/],
    ['negative count', (r) => void (r.runs[0]!.errors = -1), /\$\.runs\[0\]\.errors: expected ≥ 0/],
    [
      'fractional count',
      (r) => void (r.runs[0]!.sessionsLost = 1.5),
      /sessionsLost: expected a whole number/,
    ],
    [
      'string number',
      (r) => void ((r.runs[0] as unknown as Record<string, unknown>).throughput = '10'),
      /throughput: expected a finite number/,
    ],
    [
      'unordered percentiles',
      (r) => void (r.runs[0]!.latencyMs = { p50: 5, p95: 2, p99: 3, max: 4 }),
      /p50 ≤ p95 ≤ p99 ≤ max/,
    ],
    [
      'unknown fault kind',
      (r) => void ((r.runs[0]!.faults[0] as { kind: string }).kind = 'flood'),
      /faults\[0\]\.kind: expected one of/,
    ],
    [
      'fault after the end',
      (r) => void (r.runs[0]!.faults[0]!.at = 99_999),
      /faults\[0\]\.at: after the end/,
    ],
    [
      'timeline that does not add up',
      (r) => void (r.runs[0]!.timeline[0]!.requests = 11),
      /timeline: requests add up to 31, not 30/,
    ],
    ['timeline out of order', (r) => void (r.runs[0]!.timeline[1]!.t = 5), /timeline\[1\]\.t: expected 1/],
    [
      'errors by type that do not add up',
      (r) => void (r.runs[0]!.errorsByType = { x: 1 }),
      /errorsByType: adds up to 1, not 2/,
    ],
    [
      'loss reasons that do not add up',
      (r) => void (r.runs[0]!.sessionsLostBy = { loggedOut: 0, cartLost: 0, unauthenticated: 0 }),
      /sessionsLostBy: does not add up/,
    ],
    [
      'measure in a skipped run',
      (r) => void (r.runs[1]!.requests = 5),
      /runs\[1\]\.requests: expected one of null/,
    ],
    [
      'null measure in a run that ran',
      (r) => void (r.runs[0]!.sessionsLost = null),
      /runs\[0\]\.sessionsLost: expected a finite number/,
    ],
    [
      'empty skip reason',
      (r) => void (r.runs[1]!.skipped = ''),
      /runs\[1\]\.skipped: expected a non-empty string/,
    ],
    ['runs not matching options.configs', (r) => void r.runs.reverse(), /one run per config/],
    [
      'unknown strategy',
      (r) => void (r.runs[0]!.strategy = 'cookie'),
      /runs\[0\]\.strategy: expected one of/,
    ],
    [
      'a workload timing out of order',
      (r) => void (r.runs[0]!.timings = { takeover: { count: 2, p50: 9, p95: 5, p99: 5, max: 5 } }),
      /runs\[0\]\.timings\["takeover"\]: expected p50 ≤ p95/,
    ],
    [
      'a workload counter that is not a number',
      (r) => void ((r.runs[0]!.counters as Record<string, unknown>)['drop.oversold'] = 'none'),
      /runs\[0\]\.counters\["drop\.oversold"\]: expected a finite number/,
    ],
    [
      'an unknown workload',
      (r) => void ((r.runs[0] as unknown as Record<string, unknown>).workload = 'games'),
      /runs\[0\]\.workload: expected one of/,
    ],
    [
      'unknown run field',
      (r) => void ((r.runs[0] as unknown as Record<string, unknown>).p42 = 1),
      /runs\[0\]\.p42: unknown field/,
    ],
  ];
  for (const [what, hurt, expected] of damage) {
    it(`names the problem: ${what}`, () => {
      const r = clone(sampleReport()) as LabReport & Record<string, unknown>;
      hurt(r);
      const problems = validateReport(r);
      assert.ok(
        problems.some((p) => expected.test(p)),
        `${expected} in ${JSON.stringify(problems)}`,
      );
    });
  }

  it('refuses what is not a report at all', () => {
    assert.match(validateReport(null)[0]!, /\$: expected an object/);
    assert.match(validateReport([])[0]!, /\$: expected an object/);
  });
});

describe('recorder', () => {
  it('percentiles never exceed the exact max (HdrHistogram buckets round up)', () => {
    const rec = new Recorder();
    rec.response(1234.567);
    rec.response(1);
    const l = rec.latency()!;
    assert.equal(l.max, 1234.57);
    assert.ok(l.p50 <= l.p95 && l.p95 <= l.p99 && l.p99 <= l.max, JSON.stringify(l));
    rec.destroy();
  });

  it('counts requests and errors per second, in the totals and the timeline alike', () => {
    const rec = new Recorder();
    rec.sent();
    rec.sent();
    rec.error('network ECONNRESET');
    rec.sessionLost('data-lost');
    const [p] = rec.timeline(1000);
    assert.deepEqual({ ...p, p99: null }, { t: 0, requests: 2, errors: 1, sessionsLost: 1, p99: null });
    assert.deepEqual(rec.errorTypes(), { 'network ECONNRESET': 1 });
    assert.equal(rec.sessionsLostBy['data-lost'], 1);
    rec.destroy();
  });
});

describe('workload counters and timings', () => {
  it('sums counters by name, summarises timings by nearest rank, drops malformed names', () => {
    const rec = new Recorder();
    rec.count('drop.purchases');
    rec.count('drop.purchases', 2);
    rec.count('list.editsLost', 0);
    rec.count('bad name', 1);
    for (let ms = 1; ms <= 100; ms++) rec.timing('takeover', ms);
    rec.timing('takeover', -1);
    assert.deepEqual(rec.counterValues(), { 'drop.purchases': 3, 'list.editsLost': 0 });
    assert.deepEqual(rec.timings(), { takeover: { count: 100, p50: 50, p95: 95, p99: 99, max: 100 } });
    rec.destroy();
  });

  it('a valid report may carry them, and report.md lists them', () => {
    const report = sampleReport([
      ranRun('entities', {
        strategy: 'server',
        workload: 'entities',
        counters: { 'drop.oversold': 0 },
        timings: { takeover: { count: 3, p50: 900, p95: 2100, p99: 2100, max: 2100 } },
      }),
    ]);
    report.options.configs = ['entities'];
    assert.deepEqual(validateReport(clone(report)), []);
    assert.match(reportMarkdown(report), /`entities`: drop\.oversold 0; takeover p50 900 ms, p99 2100 ms/);
    assert.match(
      reportMarkdown(report),
      /`entities`, by the workload's own count: drop\.oversold 0, takeover p99 2\.1 s \(max 2\.1 s, 3 samples\)/,
    );
  });
});

describe('recovery after the kill', () => {
  it('is 0 when nothing went wrong, the start of the first two clean seconds otherwise, null when never', () => {
    assert.equal(recoveryMs([], 5000, 20_000), 0);
    assert.equal(recoveryMs([4000], 5000, 20_000), 0, 'before the kill does not count');
    assert.equal(recoveryMs([5200, 5900], 5000, 20_000), 1000);
    assert.equal(recoveryMs([5200, 7100], 5000, 20_000), 3000, 'a bad second in the middle starts again');
    assert.equal(recoveryMs([5200, 6500, 8100, 9900], 5000, 20_000), 5000);
    const always = Array.from({ length: 30 }, (_, i) => 5000 + i * 500);
    assert.equal(recoveryMs(always, 5000, 20_000), null);
    assert.equal(recoveryMs([], 19_000, 20_000), 0, 'nothing seen after the kill, however short the rest');
    assert.equal(recoveryMs([19_100], 19_000, 20_000), null, 'something seen, and not two seconds left');
  });
});

describe('duplicate orders', () => {
  const seen = (entries: [string, string[]][]) => new Map(entries.map(([k, ids]) => [k, new Set(ids)]));
  it('counts every order beyond one per Idempotency-Key', () => {
    const listed = [
      { id: 'a', idempotencyKey: 'k1' },
      { id: 'b', idempotencyKey: 'k1' },
      { id: 'c', idempotencyKey: 'k1' },
      { id: 'd', idempotencyKey: 'k2' },
    ];
    assert.deepEqual(
      countDuplicates(
        listed,
        seen([
          ['k1', ['a']],
          ['k2', ['d']],
        ]),
      ),
      { duplicates: 2, missing: 0 },
    );
  });
  it('counts an order listed under a key the client got another order for', () => {
    assert.deepEqual(countDuplicates([{ id: 'b', idempotencyKey: 'k' }], seen([['k', ['a']]])), {
      duplicates: 1,
      missing: 1,
    });
  });
  it('counts two different answers for one key, and acknowledged orders missing from the list', () => {
    assert.deepEqual(countDuplicates([], seen([['k', ['a', 'b']]])), { duplicates: 1, missing: 1 });
    assert.deepEqual(countDuplicates([{ id: 'a', idempotencyKey: 'k' }], seen([['k', ['a']]])), {
      duplicates: 0,
      missing: 0,
    });
    assert.deepEqual(
      countDuplicates(
        [
          { id: 'x', idempotencyKey: null },
          { id: 'y', idempotencyKey: null },
        ],
        new Map(),
      ),
      {
        duplicates: 0,
        missing: 0,
      },
    );
  });
});

describe('what this run shows', () => {
  it('is generated from the numbers: other numbers, other sentences', () => {
    const a = sampleReport([
      ranRun('server/sqlite', { bytesPerRequest: 600 }),
      ranRun('token', {
        bytesPerRequest: 1400,
        sessionsLost: 0,
        sessionsLostBy: { loggedOut: 0, cartLost: 0, unauthenticated: 0 },
        timeline: ranRun('x').timeline.map((p) => ({ ...p, sessionsLost: 0 })),
      }),
    ]);
    const b = clone(a);
    b.runs[1]!.bytesPerRequest = 650;
    b.runs[0]!.sessionsLostBeforeFault = 1;
    const text = (r: LabReport) =>
      findings(r)
        .map((f) => `${f.topic}: ${f.sentences.join(' ')}`)
        .join('\n');
    assert.match(text(a), /`token` carried 800 bytes more per request than `server\/sqlite`/);
    assert.match(text(b), /`token` carried 50 bytes more per request than `server\/sqlite`/);
    assert.doesNotMatch(text(a), /`server\/sqlite` lost 1 session before any fault/);
    assert.match(text(b), /`server\/sqlite` lost 1 session before any fault/);
    assert.notEqual(text(a), text(b));
    assert.deepEqual(
      findings(a).map((f) => f.topic),
      [
        'Scalability',
        'Fault tolerance',
        'Performance',
        'Resource usage',
        'Payload size',
        'Caching',
        'Deployment',
      ],
    );
    assert.match(reportMarkdown(a), /## What this run shows\n\n\*\*Scalability\.\*\*/);
  });

  it("says what a bearer workload counted (refreshes, families lost) as the workload's own count, and nothing of it for cookies", () => {
    const r = sampleReport([
      ranRun('server/sqlite'),
      ranRun('server/bearer', {
        credentials: 'bearer',
        counters: { 'tokens.familiesLost': 2, 'tokens.refreshed': 120 },
      }),
    ]);
    const tolerance = findings(r)
      .find((f) => f.topic === 'Fault tolerance')!
      .sentences.join(' ');
    assert.match(
      tolerance,
      /`server\/bearer`, by the workload's own count: tokens\.familiesLost 2, tokens\.refreshed 120\./,
    );
    assert.doesNotMatch(tolerance, /`server\/sqlite`[^`]*tokens/);
  });

  it('names a --proxy run apart and compares it with the same config through the built-in gateway', () => {
    const r = sampleReport([
      ranRun('server/sqlite', { throughput: 600, latencyMs: { p50: 30, p95: 130, p99: 290, max: 800 } }),
      ranRun('server/sqlite', {
        proxy: 'haproxy',
        throughput: 1150,
        latencyMs: { p50: 3, p95: 50, p99: 190, max: 1900 },
      }),
    ]);
    const text = findings(r)
      .map((f) => f.sentences.join(' '))
      .join('\n');
    assert.match(
      text,
      /`server\/sqlite` via haproxy: 1150 req\/s and p99 190\.0 ms, against 600 req\/s and p99 290\.0 ms through the built-in gateway \(1\.92× its throughput\)\./,
    );
    // Every sentence about one of the two runs says which one it is.
    assert.match(text, /`server\/sqlite` via haproxy: killing/);
    assert.match(text, /`server\/sqlite`: killing/);
  });

  it('says nothing when nothing ran', () => {
    assert.deepEqual(
      findings(
        sampleReport([
          skippedRun(
            {
              name: 'server/redis',
              strategy: 'server',
              store: 'redis',
              balance: 'round-robin',
              replication: 'off',
              credentials: 'cookie',
            },
            'no redis',
            AT,
          ),
        ]),
      ),
      [],
    );
  });
});

describe('tables', () => {
  it('one row per config that ran, skipped ones with their reason', () => {
    const report = sampleReport();
    const text = textTable(report.runs);
    assert.match(text, /^config\s+requests\s+req\/s/);
    assert.match(text, /server\/sqlite\s+30\s+10/);
    assert.match(text, /server\/redis: skipped \(no redis-server on PATH\)/);
    const md = markdownTable(report.runs);
    assert.match(md, /^\| config \| requests \|/);
    assert.match(md, /\| server\/sqlite \| 30 \| 10 \|/);
    assert.match(md, /- `server\/redis`: skipped — no redis-server on PATH/);
  });

  it('a kill without recovery reads "never", no kill reads "–"', () => {
    assert.match(textTable([ranRun('server/sqlite', { recoveryMs: null })]), /never/);
    assert.doesNotMatch(textTable([ranRun('server/sqlite', { recoveryMs: null, faults: [] })]), /never/);
  });
});

describe('small parts', () => {
  it('cookie jar: set, replace, delete by Max-Age or Expires', () => {
    const jar = new CookieJar();
    assert.equal(jar.header(), undefined);
    jar.store(['sl.sid=a; Path=/; HttpOnly', 'sl.route=i2; Path=/']);
    assert.equal(jar.header(), 'sl.sid=a; sl.route=i2');
    jar.store(['sl.sid=b; Path=/']);
    assert.equal(jar.header(), 'sl.sid=b; sl.route=i2');
    jar.store(['sl.sid=; Max-Age=0', 'sl.route=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT']);
    assert.equal(jar.header(), undefined);
  });

  it('mulberry32: the same seed, the same choices', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const draw = (r: ReturnType<typeof mulberry32>) => [
      r.int(1, 100),
      r.hex128(),
      r.pick(['x', 'y', 'z']),
      r.next(),
    ];
    assert.deepEqual(draw(a), draw(b));
    assert.notDeepEqual(draw(mulberry32(42)), draw(mulberry32(43)));
    assert.match(mulberry32(1).hex128(), /^[0-9a-f]{32}$/);
  });

  it('sums a metric over its label sets', () => {
    const text = [
      '# HELP stateline_store_operations_total x',
      'stateline_store_operations_total{op="get"} 3',
      'stateline_store_operations_total{op="update",x="}"} 2',
      'stateline_store_operations_total_other 100',
      'process_cpu_seconds_total 1.5',
    ].join('\n');
    assert.equal(sumMetric(text, 'stateline_store_operations_total'), 5);
    assert.equal(sumMetric(text, 'process_cpu_seconds_total'), 1.5);
    assert.equal(sumMetric(text, 'nope'), null);
  });

  it('header meter: exactly the request and response head bytes, only for its origin', async () => {
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.sendDate = false;
        res.writeHead(200, {
          'x-a': 'bb',
          'content-length': '2',
          connection: 'keep-alive',
          'keep-alive': 'timeout=5',
        });
        res.end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const agent = new Agent();
    const meter = new HeaderMeter(origin);
    try {
      meter.start();
      await (await fetch(`${origin}/p`, { dispatcher: agent, headers: { cookie: 'a=b' } })).text();
      await (await fetch(`${origin}/q`, { dispatcher: agent, method: 'POST', body: '{"x":1}' })).text();
      meter.stop();
      await (await fetch(`${origin}/ignored`, { dispatcher: agent })).text();
      const t = meter.totals();
      assert.equal(t.exchanges, 2);
      const common = `host: 127.0.0.1:${new URL(origin).port}\r\nconnection: keep-alive\r\n`;
      const fetchHeaders =
        'accept: */*\r\naccept-language: *\r\nsec-fetch-mode: cors\r\nuser-agent: undici\r\naccept-encoding: gzip, deflate\r\n';
      const get = `GET /p HTTP/1.1\r\n${common}cookie: a=b\r\n${fetchHeaders}\r\n`;
      const post = `POST /q HTTP/1.1\r\n${common}content-type: text/plain;charset=UTF-8\r\n${fetchHeaders}content-length: 7\r\n\r\n`;
      assert.equal(t.requestBytes, get.length + post.length);
      const response =
        'HTTP/1.1 200 OK\r\nx-a: bb\r\ncontent-length: 2\r\nconnection: keep-alive\r\nkeep-alive: timeout=5\r\n\r\n';
      assert.equal(t.responseBytes, 2 * response.length);
    } finally {
      meter.stop();
      await agent.close();
      server.close();
    }
  });
});
