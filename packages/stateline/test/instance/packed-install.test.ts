/**
 * What a production install costs (issue 13, must show 3): `npm pack` this package, install the
 * tarball offline into a fresh project, and run a tiny app on `stateline/instance` with a memory
 * Store. The install must hold stateline alone (no runtime dependency; optional peers are left out),
 * none of the dev tool's packages, and stay under 5 MB.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { startNode } from './child.js';

const PACKAGE_DIR = new URL('../..', import.meta.url).pathname;
const LIMIT = 5 * 1024 * 1024;
/** What `@stateline/lab` pulls in and a production app must not carry. */
const DEV_TOOL_PACKAGES = ['vega', 'commander', 'better-sqlite3'];

const work = mkdtempSync(join(tmpdir(), 'stateline-install-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** Runs npm without the `npm_*` variables a surrounding `npm test` sets (they name the monorepo). */
async function npm(args: string[], cwd: string): Promise<string> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('npm_')));
  const { stdout } = await promisify(execFile)('npm', args, { cwd, env, maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

/** Bytes of every file under `dir` (symlinks counted as links, not followed). */
function sizeOf(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    total += entry.isDirectory() ? sizeOf(p) : lstatSync(p).size;
  }
  return total;
}

/** Package names installed in `node_modules` (scoped ones as `@scope/name`). */
function installed(modules: string): string[] {
  return readdirSync(modules)
    .filter((n) => !n.startsWith('.'))
    .flatMap((n) => (n.startsWith('@') ? readdirSync(join(modules, n)).map((s) => `${n}/${s}`) : [n]))
    .sort();
}

const APP = `
import { runInstance } from 'stateline/instance';
import { createStore } from 'stateline/store';

const store = await createStore('memory:');
await runInstance(
  async (_req, res) => {
    await store.create('hits', 'x').catch(() => undefined);
    res.end('hello');
  },
  { ready: async () => (await store.get('hits'), true), close: [() => console.log('closing'), store] },
);
`;

describe('stateline installed from its packed tarball', () => {
  it('holds no dependency and none of the dev tool, under 5 MB, and serves, probes and drains', async (t) => {
    const [packed] = JSON.parse(await npm(['pack', '--json', '--pack-destination', work], PACKAGE_DIR)) as {
      filename: string;
    }[];
    const project = join(work, 'app');
    mkdirSync(project);
    await npm(['init', '-y'], project);
    await npm(['install', join(work, packed!.filename), '--offline', '--no-audit', '--no-fund'], project);
    writeFileSync(join(project, 'app.mjs'), APP);

    const modules = join(project, 'node_modules');
    const extra = installed(modules).filter((n) => n !== 'stateline');
    assert.deepEqual(extra, [], `stateline gained runtime dependencies: ${extra.join(', ')}`);
    for (const name of DEV_TOOL_PACKAGES)
      assert.ok(!installed(modules).includes(name), `${name} is installed`);
    const bytes = sizeOf(modules);
    t.diagnostic(`installed size: ${(bytes / 1024 / 1024).toFixed(2)} MB (${bytes} bytes)`);
    assert.ok(bytes < LIMIT, `installed size ${bytes} bytes is over ${LIMIT}`);

    const p = startNode(['app.mjs'], { cwd: project, env: { STATELINE_INSTANCE_ID: 'packed' } });
    const url = await p.listening();
    const health = await fetch(`${url}/healthz`);
    assert.deepEqual([health.status, await health.json()], [200, { status: 'ok', instance: 'packed' }]);
    assert.equal((await fetch(`${url}/readyz`)).status, 200);
    const res = await fetch(`${url}/`);
    assert.equal(await res.text(), 'hello');
    assert.equal(res.headers.get('x-stateline-instance'), 'packed');
    p.child.kill('SIGTERM');
    assert.equal(await p.exited, 0, p.stderr());
    assert.match(p.stdout(), /closing\n$/);
  });
});
