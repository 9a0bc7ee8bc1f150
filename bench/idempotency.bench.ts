/**
 * npm run bench -- idempotency [--duration 5] [--connections 50] [--baseline <dir> [--slices 8] [--slice 2.5]]
 *
 * `--baseline <dir>` (another checkout of this repository, built) compares the idempotency row
 * with the same row served by that checkout's library instead: both servers stay up and the load
 * alternates between them in slices (A B B A …), so the shared machine's drift falls on both; it
 * passes at ≥ 0.97× the baseline (issue #13: no more than 3 % slower).
 *
 * The cost of the Idempotency-Key middleware on a trivial POST with a fresh key on every request,
 * side by side in one run with the same route without it (Express, Redis store). Each server runs
 * in its own child process; autocannon drives it from this one.
 */
import autocannon from 'autocannon';
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REDIS = process.env.STATELINE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
type Row = 'bare' | 'idempotency';

async function serve(row: Row, prefix: string): Promise<void> {
  const { default: express } = await import('express');
  const { idempotency } = await import('stateline/express');
  const app = express();
  app.use(express.json());
  if (row === 'idempotency') app.use(idempotency({ store: `${REDIS}?prefix=${prefix}` }));
  let n = 0;
  app.post('/orders', (req, res) => void res.status(201).json({ id: ++n, item: req.body.item }));
  const server = app.listen(0, '127.0.0.1', () => {
    const addr = server.address();
    process.send!({ port: typeof addr === 'object' && addr ? addr.port : 0 });
  });
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

async function start(
  row: Row,
  prefix: string,
  file = fileURLToPath(import.meta.url),
): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(file, ['--serve', row, prefix], {
    execArgv: ['--import', 'tsx'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`${row} server exited with ${code}`)));
  });
  return { child, port };
}

function load(port: number, duration: number, connections: number): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: `http://127.0.0.1:${port}`,
        connections,
        duration,
        requests: [
          {
            method: 'POST',
            path: '/orders',
            headers: { 'content-type': 'application/json' },
            body: '{"item":42}',
            setupRequest: (req) => ({ ...req, headers: { ...req.headers, 'idempotency-key': randomUUID() } }),
          },
        ],
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
  });
}

async function cleanKeys(prefix: string): Promise<number> {
  const { createClient } = await import('redis');
  const redis = await createClient({ url: REDIS }).connect();
  let removed = 0;
  for await (const keys of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
    if (keys.length) removed += await redis.del(keys);
  }
  await redis.quit();
  return removed;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** `--baseline`: this tree's idempotency row against the same row of another checkout, as a pair. */
async function againstBaseline(dir: string, connections: number): Promise<void> {
  const file = join(resolve(dir), 'bench/idempotency.bench.ts');
  if (!existsSync(file)) throw new Error(`--baseline ${dir}: no bench/idempotency.bench.ts there`);
  const slices = arg('slices', 8);
  const slice = arg('slice', 2.5);
  const prefix = `slbench:idem:${process.pid}:`;
  const sides = [await start('idempotency', `${prefix}a:`), await start('idempotency', `${prefix}b:`, file)];
  const totals = [0, 0];
  const ratios: number[] = [];
  try {
    for (const s of sides) await load(s.port, 1, connections);
    for (let i = 0; i < slices; i++) {
      const order = i % 2 ? [1, 0] : [0, 1];
      const got = [0, 0];
      for (const k of order) {
        const r = await load(sides[k]!.port, slice, connections);
        if (r.non2xx > 0) process.exitCode = 1;
        got[k] = r.requests.average;
        totals[k]! += r.requests.average;
      }
      ratios.push(got[0]! / got[1]!);
    }
  } finally {
    for (const s of sides) s.child.kill('SIGKILL');
  }
  const removed = await cleanKeys(prefix);
  const ratio = totals[0]! / totals[1]!;
  console.log(
    `\nidempotency vs ${dir}: express POST /orders with a fresh Idempotency-Key, ${connections} connections, ${slices} slices of ${slice} s on each, alternating\n`,
  );
  console.log('| build | req/s (mean of slices) |');
  console.log('| --- | ---: |');
  console.log(`| this tree | ${Math.round(totals[0]! / slices)} |`);
  console.log(`| ${dir} | ${Math.round(totals[1]! / slices)} |`);
  const sorted = [...ratios].sort((a, b) => a - b);
  console.log(
    `\n${ratio >= 0.97 ? 'PASS' : 'FAIL'} this tree ≥ 0.97× the baseline: ${ratio.toFixed(3)}× ` +
      `(slice pairs ${sorted[0]!.toFixed(2)}–${sorted[sorted.length - 1]!.toFixed(2)}, median ${median(ratios).toFixed(3)}); cleaned ${removed} keys`,
  );
}

async function main(): Promise<void> {
  const duration = arg('duration', 5);
  const connections = arg('connections', 50);
  const b = process.argv.indexOf('--baseline');
  if (b > 0) return againstBaseline(process.argv[b + 1] ?? '', connections);
  const prefix = `slbench:idem:${process.pid}:`;
  const results: Record<string, autocannon.Result> = {};
  for (const row of ['bare', 'idempotency'] as Row[]) {
    const { child, port } = await start(row, prefix);
    try {
      await load(port, 1, connections); // warm-up
      results[row] = await load(port, duration, connections);
    } finally {
      child.kill('SIGKILL');
    }
  }
  const removed = await cleanKeys(prefix);

  const bare = results.bare!;
  const idem = results.idempotency!;
  const ratio = idem.requests.average / bare.requests.average;
  const row = (name: string, r: autocannon.Result) =>
    `| ${name} | ${Math.round(r.requests.average)} | ${r.latency.p50} | ${r.latency.p99} | ${r.non2xx} | ${(r.requests.average / bare.requests.average).toFixed(2)} |`;
  console.log(
    `\nidempotency: express POST /orders, fresh Idempotency-Key per request, ${connections} connections, ${duration} s, redis store\n`,
  );
  console.log('| row | req/s | p50 ms | p99 ms | non-2xx | ratio vs bare |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  console.log(row('express (no middleware)', bare));
  console.log(row('express + idempotency (redis)', idem));
  console.log(
    `\ntarget: idempotency >= 0.7x bare: ${ratio >= 0.7 ? 'PASS' : 'FAIL'} (${ratio.toFixed(2)}x); cleaned ${removed} keys`,
  );
  if (idem.non2xx > 0 || bare.non2xx > 0) process.exitCode = 1;
}

if (process.argv[2] === '--serve') await serve(process.argv[3] as Row, process.argv[4]!);
else await main();
