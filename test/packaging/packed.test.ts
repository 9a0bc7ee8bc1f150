/**
 * The packages as npm would publish them: `npm pack` of stateline, @stateline/gateway and
 * @stateline/lab, checked by publint (--strict) and @arethetypeswrong/cli, then installed into a
 * fresh CommonJS project (as `npm init -y` writes it) and a fresh ESM TypeScript project (--strict,
 * nodenext), where the README's quick starts run over real HTTP. Needs a build (npm test does one).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import {
  ROOT,
  childEnv,
  createProject,
  packAll,
  readManifest,
  run,
  type Manifest,
  type Packed,
} from './support/project.js';
import {
  FRAMEWORKS,
  quickStarts,
  runQuickStart,
  runToFailure,
  visit,
  type QuickStart,
  type Visit,
} from './support/quick-start.js';

const SESSION_KEY = 'quick-start-key-0123456789abcdefghijklmnop';
const PEERS = ['express', 'fastify', 'hono', '@hono/node-server'];
const ATTW = join(ROOT, 'node_modules/@arethetypeswrong/cli/dist/index.js');
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');

const work = mkdtempSync(join(tmpdir(), 'stateline-packed-'));
let tarballs: Packed[] = [];
after(() => rmSync(work, { recursive: true, force: true }));
before(async () => {
  mkdirSync(join(work, 'tarballs'));
  tarballs = await packAll(join(work, 'tarballs'));
});

/** The README as shipped in the stateline tarball, read from a project that installed it. */
const shippedQuickStarts = (project: string, module: 'esm' | 'cjs'): QuickStart[] =>
  quickStarts(readFileSync(join(project, 'node_modules/stateline/README.md'), 'utf8')).filter(
    (q) => q.module === module,
  );

/** Both requests answered from one session: a counter set by the first and read by the second. */
function assertSessionKept(r: Visit): void {
  assert.deepEqual(r.bodies, [{ visits: 1 }, { visits: 2 }]);
  assert.ok(
    r.setCookie.some((c) => c.startsWith('sl.sid=')),
    `a session cookie: ${r.setCookie.join(' | ')}`,
  );
  assert.equal(r.exitCode, 0, `drained and exited 0 on SIGTERM\n${r.stderr}`);
}

describe('the packed tarballs', () => {
  it('are the three published packages', () => {
    assert.deepEqual(tarballs.map((t) => t.name).sort(), [
      '@stateline/gateway',
      '@stateline/lab',
      'stateline',
    ]);
  });

  it('publint --strict reports nothing', async () => {
    for (const t of tarballs) {
      const buf = readFileSync(t.file);
      const tarball = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
      const { messages, pkg } = await publint({ pack: { tarball }, strict: true });
      const lines = messages.map((m) => `${t.name}: ${m.type}: ${formatMessage(m, pkg) ?? m.code}`);
      assert.deepEqual(lines, []);
    }
  });

  it('@arethetypeswrong/cli reports nothing', async () => {
    // Profile `node16` leaves out node10 resolution (no `exports` support: TypeScript's legacy
    // `moduleResolution: node`, Node < 12), which we do not support. `cjs-resolves-to-esm` is the one
    // rule ignored: a require() that resolves to ESM is what Node >= 20.19 (our `engines`) loads
    // natively (require(esm)), and TypeScript accepts it under `module: node20`/`nodenext` (5.8+);
    // attw's bundled TypeScript predates that. Every other rule, CommonJS resolution included, applies.
    const args = ['--profile', 'node16', '--ignore-rules', 'cjs-resolves-to-esm', '--format', 'ascii'];
    await Promise.all(tarballs.map((t) => run(process.execPath, [ATTW, t.file, ...args], work)));
  });
});

describe('a CommonJS project (npm init -y) with the tarballs installed', () => {
  const dir = join(work, 'cjs');
  before(async () => {
    mkdirSync(dir);
    await createProject(dir, { type: 'commonjs', tarballs, adds: PEERS });
  });

  it('is the project npm init -y writes: "type": "commonjs"', () => {
    assert.equal(
      (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { type?: string }).type,
      'commonjs',
    );
  });

  it('require()s every subpath export of every package (no top-level await on the way)', async () => {
    const names = tarballs.map((t) => t.name);
    writeFileSync(
      join(dir, 'require-all.js'),
      `const { readFileSync } = require('node:fs');
const done = [];
for (const name of ${JSON.stringify(names)}) {
  const { exports } = JSON.parse(readFileSync(require.resolve(name + '/package.json'), 'utf8'));
  for (const sub of Object.keys(exports)) {
    if (sub === './package.json') continue;
    const spec = name + sub.slice(1);
    const mod = require(spec);
    done.push(spec + ' ' + Object.keys(mod).length);
  }
}
console.log(done.join('\\n'));
`,
    );
    const { stdout, stderr } = await run(process.execPath, ['require-all.js'], dir);
    const loaded = stdout.trim().split('\n');
    const expected = tarballs.flatMap((t) => {
      const m: Manifest = readManifest(join(dir, 'node_modules', t.name));
      return Object.keys(m.exports)
        .filter((s) => s !== './package.json')
        .map((s) => t.name + s.slice(1));
    });
    assert.deepEqual(
      loaded.map((l) => l.split(' ')[0]),
      expected,
    );
    assert.ok(expected.length >= 17, `every subpath: ${expected.length}`);
    assert.doesNotMatch(stderr, /ExperimentalWarning|Error/);
  });

  it('the shipped README has an ESM and a CommonJS quick start per framework, 10 to 17 lines each', () => {
    const all = [...shippedQuickStarts(dir, 'esm'), ...shippedQuickStarts(dir, 'cjs')];
    assert.deepEqual(
      all.map((q) => `${q.framework} ${q.module}`).sort(),
      FRAMEWORKS.flatMap((f) => [`${f} cjs`, `${f} esm`]).sort(),
    );
    for (const q of all) {
      const lines = q.code.trimEnd().split('\n').length;
      assert.ok(lines >= 10 && lines <= 17, `${q.framework} ${q.module}: ${lines} lines`);
    }
  });

  for (const framework of FRAMEWORKS) {
    it(`runs the README's ${framework} CommonJS quick start: a session over HTTP on port 0, exit 0 on SIGTERM`, async () => {
      const q = shippedQuickStarts(dir, 'cjs').find((x) => x.framework === framework);
      assert.ok(q, `the README has a ${framework} cjs quick start`);
      const file = join(dir, `${framework}.js`);
      writeFileSync(file, q.code);
      assertSessionKept(await runQuickStart(file, dir, { SESSION_KEY }));
    });
  }

  it('a redis:// store without the redis package installed: exits 1, naming the package', async () => {
    const q = shippedQuickStarts(dir, 'cjs').find((x) => x.framework === 'express');
    assert.ok(q);
    writeFileSync(join(dir, 'no-redis.js'), q.code);
    const r = await runToFailure(join(dir, 'no-redis.js'), dir, {
      SESSION_KEY,
      STATELINE_STORE: 'redis://127.0.0.1:6379',
    });
    assert.equal(r.exitCode, 1, 'an unhandled rejection, not a hang');
    assert.match(r.stderr, /needs the package "redis": run `npm install redis`/);
  });

  it('stateline up (the bin npm linked in the project) runs the README quick start as a 2-instance cluster', async () => {
    const q = shippedQuickStarts(dir, 'cjs').find((x) => x.framework === 'express');
    assert.ok(q);
    writeFileSync(join(dir, 'app.js'), q.code);
    // The store is the cluster's (STATELINE_STORE, an embedded SQLite file in the project): the
    // visitor's session follows them from one instance to the other.
    const r = await visit(
      join(dir, 'node_modules/.bin/stateline'),
      ['up', '--app', './app.js', '--instances', '2', '--port', '0'],
      { cwd: dir, env: { SESSION_KEY }, ready: /^(http:\/\/\S+)$/m, requests: 4 },
    );
    assert.deepEqual(r.bodies, [{ visits: 1 }, { visits: 2 }, { visits: 3 }, { visits: 4 }]);
    assert.deepEqual(new Set(r.instances), new Set(['i1', 'i2']));
    assert.equal(r.exitCode, 0, r.stderr);
  });

  it('npx stateline --version and npx stateline up --help resolve the CLI from the project', async () => {
    const lab = readManifest(join(dir, 'node_modules/@stateline/lab'));
    const env = childEnv();
    const version = await run('npx', ['--offline', 'stateline', '--version'], dir, env);
    assert.equal(version.stdout.trim(), lab.version);
    const help = await run('npx', ['--offline', 'stateline', 'up', '--help'], dir, env);
    assert.match(help.stdout, /^Usage: stateline up/m);
  });
});

describe('an ESM TypeScript project (--strict, module nodenext) with the tarballs installed', () => {
  const dir = join(work, 'esm');
  before(async () => {
    mkdirSync(dir);
    await createProject(dir, { type: 'module', tarballs, adds: [...PEERS, '@types/node', '@types/express'] });
    for (const q of shippedQuickStarts(dir, 'esm')) writeFileSync(join(dir, `${q.framework}.ts`), q.code);
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          outDir: 'dist',
          types: ['node'],
        },
        include: ['*.ts'],
      }),
    );
  });

  it('compiles every README quick start with tsc --strict, with no cast', async () => {
    assert.deepEqual(
      shippedQuickStarts(dir, 'esm').map((q) => q.framework),
      [...FRAMEWORKS],
    );
    for (const q of shippedQuickStarts(dir, 'esm')) assert.doesNotMatch(q.code, /\bas (unknown|any)\b|@ts-/);
    await run(process.execPath, [TSC, '-p', dir], dir);
  });

  for (const framework of FRAMEWORKS) {
    it(`runs the README's ${framework} quick start (compiled): a session over HTTP on port 0, exit 0 on SIGTERM`, async () => {
      assertSessionKept(await runQuickStart(join(dir, 'dist', `${framework}.js`), dir, { SESSION_KEY }));
    });
  }
});
