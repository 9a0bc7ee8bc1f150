#!/usr/bin/env node
// Runs every *.test.ts under packages/, apps/, bench/, scripts/ and test/ (the packed packages)
// with node's test runner (TypeScript via tsx).
// Usage: node scripts/test.mjs [filter...]   (filters match test file paths)
import { spawn } from 'node:child_process';
import { readdirSync, statSync, existsSync } from 'node:fs';
import { connect } from 'node:net';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const roots = ['packages', 'apps', 'bench', 'scripts', 'test'].map((d) => join(root, d)).filter(existsSync);

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const filters = process.argv.slice(2);
const files = roots
  .flatMap((r) => walk(r, []))
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(1);
}
// Integration tests need Redis, PostgreSQL and NATS (JetStream). Probe them once here: outside CI a missing one is
// reported in one line for the whole run (the test files then skip quietly); under CI=true the
// test files fail instead.
const services = {
  redis: process.env.STATELINE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
  postgres: process.env.STATELINE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  nats: process.env.STATELINE_TEST_NATS_URL ?? 'nats://127.0.0.1:4222',
};
const defaultPorts = { redis: 6379, postgres: 5432, nats: 4222 };
const inCi = process.env.CI === 'true' || process.env.CI === '1';
for (const [name, url] of Object.entries(services)) {
  if (!(await reachable(url, defaultPorts[name])) && !inCi) {
    console.log(
      `# SKIP ${name} is not reachable at ${url}: its integration tests are skipped (set STATELINE_TEST_${name.toUpperCase()}_URL)`,
    );
  }
}
process.env.STATELINE_TEST_SKIPS_REPORTED = '1';

function reachable(url, defaultPort) {
  const u = new URL(url);
  return new Promise((resolve) => {
    const sock = connect({
      host: u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
      port: Number(u.port || defaultPort),
    });
    const done = (ok) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1000, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

const args = ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=120000', ...files];
const child = spawn(process.execPath, args, { cwd: root, stdio: 'inherit' });
child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
