/**
 * npm run bench -- idempotency [--duration 5] [--connections 50]
 *
 * The cost of the Idempotency-Key middleware on a trivial POST with a fresh key on every request,
 * side by side in one run with the same route without it (Express, Redis store). Each server runs
 * in its own child process; autocannon drives it from this one.
 */
import autocannon from 'autocannon';
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
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

async function start(row: Row, prefix: string): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(fileURLToPath(import.meta.url), ['--serve', row, prefix], {
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

async function main(): Promise<void> {
  const duration = arg('duration', 5);
  const connections = arg('connections', 50);
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
  const { createClient } = await import('redis');
  const redis = await createClient({ url: REDIS }).connect();
  let removed = 0;
  for await (const keys of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
    if (keys.length) removed += await redis.del(keys);
  }
  await redis.quit();

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
