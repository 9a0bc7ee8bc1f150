/**
 * npm run bench -- tokens [--slices 8] [--slice 2.5] [--connections 50] [--tokens 1000] [--store redis|memory]
 *
 * Issue #15, Must show 3: bearer access tokens on a trivial `GET /orders`, side by side in one run:
 * express + Stateline `bearer` (revocation on) vs express + express-jwt, and fastify + `bearer` vs
 * fastify + @fastify/jwt; recorded beside them, express + `bearer` with the verified-token cache
 * off, and fastify + `bearer` vs @fastify/jwt with fast-jwt's own token cache on (`cache: 10000`). Every server runs in its own child process (bench/servers/tokens-server.ts) and autocannon
 * drives it from this one, 50 connections, pipelining 1.
 *
 * Workload: one ES256 key for all rows (jsonwebtoken, under express-jwt, has no EdDSA); `--tokens`
 * access tokens issued up front (default 1,000: that many API clients), and every request carries
 * the next one round-robin, so each token comes back many times in its life, as a client's does.
 * Stateline verifies `sub`, `sid`, `iss`, `aud`, `exp`, `nbf`, `typ`, the scope and revocation
 * (deny entries and per-user valid-after, re-read from the Redis Store every second and pushed on
 * the Redis Bus); the anchors verify signature, `iss`, `aud` and `exp`, and cannot revoke.
 *
 * Pairs: both servers up at once, load alternating between them in `--slice`-second slices, A B B
 * A …, so a drift of the shared machine falls on both. req/s = answers / seconds over all slices of
 * a side; p99 = the mean of its slices' p99. Target: Stateline ≥ 1.2× its anchor on each framework.
 */
import autocannon from 'autocannon';
import { fork, type ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createClient } from 'redis';
import { createSessions } from 'stateline/session';
import { createTokens, generateTokenKey } from 'stateline/tokens';
import { AUDIENCE, ISSUER, type TokensRow } from './servers/tokens-rows.js';

const { values: args } = parseArgs({
  options: {
    slices: { type: 'string', default: '8' },
    slice: { type: 'string', default: '2.5' },
    connections: { type: 'string', default: '50' },
    tokens: { type: 'string', default: '1000' },
    store: { type: 'string', default: 'redis' },
  },
});
const SLICES = Number(args.slices);
const SLICE = Number(args.slice);
const CONNECTIONS = Number(args.connections);
const TOKENS = Number(args.tokens);
if (!(Number.isInteger(SLICES) && SLICES > 0 && SLICE > 0 && CONNECTIONS > 0 && TOKENS > 0))
  throw new Error('--slices, --slice, --connections and --tokens must be positive numbers');
const REDIS = process.env.STATELINE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `slbench:tokens:${Date.now().toString(36)}-${process.pid}:`;
const STORE = args.store === 'redis' ? `${REDIS}?prefix=${encodeURIComponent(PREFIX)}` : 'memory:';
const SERVER = fileURLToPath(new URL('./servers/tokens-server.ts', import.meta.url));

const PAIRS: { name: string; a: TokensRow; b: TokensRow; target?: number }[] = [
  { name: 'express', a: 'express-bearer', b: 'express-jwt', target: 1.2 },
  { name: 'fastify', a: 'fastify-bearer', b: 'fastify-jwt', target: 1.2 },
  { name: 'express, cache off', a: 'express-bearer-nocache', b: 'express-jwt' },
  { name: 'fastify, both caching', a: 'fastify-bearer', b: 'fastify-jwt-cache' },
];

async function start(row: TokensRow, key: string): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(SERVER, [row], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, TOKENS_BENCH_KEY: key, TOKENS_BENCH_STORE: STORE },
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`${row} server exited with ${code}`)));
  });
  return { child, port };
}

function load(port: number, seconds: number, tokens: string[]): Promise<autocannon.Result> {
  let i = 0;
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: `http://127.0.0.1:${port}`,
        connections: CONNECTIONS,
        duration: seconds,
        pipelining: 1,
        requests: [
          {
            method: 'GET',
            path: '/orders',
            setupRequest: (req) => ({
              ...req,
              headers: { ...req.headers, authorization: `Bearer ${tokens[i++ % tokens.length]}` },
            }),
          },
        ],
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
  });
}

interface Side {
  requests: number;
  seconds: number;
  non2xx: number;
  errors: number;
  p99: number[];
}

const fmt = (n: number, d = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

async function main(): Promise<void> {
  const key = await generateTokenKey('ES256');
  // The tokens every row is sent: issued once, by an instance of their own with the same key.
  const issuer = await createSessions({ strategy: 'server', store: 'memory:', keys: ['i'.repeat(40)] });
  const minted = await createTokens({ keys: [key], sessions: issuer, issuer: ISSUER, audience: AUDIENCE });
  const tokens: string[] = [];
  for (let n = 0; n < TOKENS; n++)
    tokens.push((await minted.issue(`user-${n}`, { scopes: ['orders:read'] })).accessToken);
  await minted.close();
  await issuer.close();

  const load0 = loadavg();
  console.log(
    `tokens bench: ${CONNECTIONS} connections, ${TOKENS} tokens round-robin, ES256, ${SLICES} slices of ${SLICE} s per side, store ${args.store}`,
  );
  console.log(`load average at start: ${load0.map((x) => x.toFixed(2)).join(' ')}`);
  const lines: string[] = [
    '| pair | row | req/s | p99 ms | non-2xx | ratio (req/s) | target |',
    '|---|---|---:|---:|---:|---:|---|',
  ];
  let failed = false;
  for (const pair of PAIRS) {
    const a = await start(pair.a, JSON.stringify(key));
    const b = await start(pair.b, JSON.stringify(key));
    try {
      // Warm-up: JIT, connection setup, and Stateline's verified cache filled once.
      await load(a.port, 1, tokens);
      await load(b.port, 1, tokens);
      const sides: Record<'a' | 'b', Side> = {
        a: { requests: 0, seconds: 0, non2xx: 0, errors: 0, p99: [] },
        b: { requests: 0, seconds: 0, non2xx: 0, errors: 0, p99: [] },
      };
      for (let s = 0; s < SLICES; s++) {
        // A B B A A B …
        const order: ('a' | 'b')[] = s % 2 === 0 ? ['a', 'b'] : ['b', 'a'];
        for (const side of order) {
          const r = await load(side === 'a' ? a.port : b.port, SLICE, tokens);
          const x = sides[side];
          x.requests += r['2xx'];
          x.seconds += r.duration;
          x.non2xx += r.non2xx;
          x.errors += r.errors + r.timeouts;
          x.p99.push(r.latency.p99);
        }
      }
      const rps = (x: Side) => x.requests / x.seconds;
      const p99 = (x: Side) => x.p99.reduce((s, v) => s + v, 0) / x.p99.length;
      const ratio = rps(sides.a) / rps(sides.b);
      const ok = sides.a.non2xx + sides.a.errors + sides.b.non2xx + sides.b.errors === 0;
      const verdict =
        pair.target === undefined
          ? 'recorded'
          : ratio >= pair.target && ok
            ? `≥ ${pair.target}× PASS`
            : `≥ ${pair.target}× FAIL`;
      if (pair.target !== undefined && !(ratio >= pair.target && ok)) failed = true;
      for (const [side, row] of [
        ['a', pair.a],
        ['b', pair.b],
      ] as const) {
        const x = sides[side];
        lines.push(
          `| ${pair.name} | ${row} | ${fmt(rps(x))} | ${fmt(p99(x), 1)} | ${x.non2xx + x.errors} | ${side === 'a' ? `${ratio.toFixed(2)}×` : ''} | ${side === 'a' ? verdict : ''} |`,
        );
      }
      console.log(lines.slice(-2).join('\n'));
    } finally {
      a.child.kill();
      b.child.kill();
    }
  }
  const load1 = loadavg();
  console.log(`\nload average at end: ${load1.map((x) => x.toFixed(2)).join(' ')}\n`);
  console.log(lines.join('\n'));
  if (args.store === 'redis') {
    const c = createClient({ url: REDIS });
    await c.connect();
    for await (const batch of c.scanIterator({ MATCH: `${PREFIX}*`, COUNT: 500 }))
      if (batch.length) await c.unlink(batch);
    await c.close();
  }
  process.exitCode = failed ? 1 : 0;
}

await main();
