/**
 * The `stateline` command: option errors (one line, exit 2) through main(), `export`, and the
 * real binary (`node packages/lab/bin/stateline.js up --port 0`) started, used and stopped.
 * The binary runs the built CLI: `npm run build` first (npm test does).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { main } from '../src/cli.js';
import type { ClusterStatus } from '../src/control.js';
import { alive, CLUSTER_APP, eventually, getJson } from './support.js';

const BIN = new URL('../bin/stateline.js', import.meta.url).pathname;
const BUILT = new URL('../dist/cli.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'lab-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function run(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

describe('stateline (main)', () => {
  const invalid: string[][] = [
    ['up', '--instances', '0'],
    ['up', '--instances', '2.5'],
    ['up', '--instances', '65'],
    ['up', '--balance', 'nope'],
    ['up', '--strategy', 'x'],
    ['up', '--replication', 'sometimes'],
    ['up', '--replication', 'backup'],
    ['up', '--port', '70000'],
    ['up', '--port'],
    ['up', '--store', 'nope'],
    ['up', '--bus', 'kafka://x'],
    ['up', '--app', 'no/such/module.js'],
    ['up', '--admin-token', 'short'],
    ['up', '--bogus'],
    ['up', 'extra'],
    ['export'],
    ['export', 'traefik'],
    ['export', 'haproxy', '--instances', 'nope'],
    ['export', 'nginx', '--balance', 'random'],
    ['frobnicate'],
    [],
  ];
  for (const argv of invalid) {
    it(`${JSON.stringify(argv.join(' '))} → exit 2 and one line on stderr`, async () => {
      const r = await run(...argv);
      assert.equal(r.code, 2);
      assert.equal(r.out, '');
      assert.match(r.err, /^stateline: [^\n]+\n$/, `one line: ${JSON.stringify(r.err)}`);
      assert.doesNotMatch(r.err, /Usage:|\bat \S+:\d+/, 'no help dump, no stack trace');
    });
  }

  it('names the problem: the option and what it accepts', async () => {
    assert.match(
      (await run('up', '--instances', '0')).err,
      /--instances must be a whole number from 1 to 64/,
    );
    assert.match(
      (await run('up', '--balance', 'nope')).err,
      /--balance.*round-robin, least-conn, sticky, hash/,
    );
    assert.match((await run('up', '--replication', 'backup')).err, /needs --strategy memory/);
    assert.match((await run('up', '--bogus')).err, /unknown option '--bogus'/);
  });

  it('--version and -V print the package version alone, exit 0', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    for (const flag of ['--version', '-V']) {
      const r = await run(flag);
      assert.equal(r.code, 0);
      assert.equal(r.out, `${version}\n`);
      assert.equal(r.err, '');
    }
  });

  it('--help on every command, exit 0, listing every option', async () => {
    const top = await run('--help');
    assert.equal(top.code, 0);
    assert.match(top.out, /up \[options\]/);
    assert.match(top.out, /export \[options\] <target>/);
    const up = await run('up', '--help');
    assert.equal(up.code, 0);
    for (const flag of [
      '--app',
      '--instances',
      '--port',
      '--host',
      '--strategy',
      '--store',
      '--bus',
      '--balance',
      '--replication',
      '--admin-token',
    ])
      assert.ok(up.out.includes(flag), `up --help lists ${flag}`);
    const exp = await run('export', '--help');
    assert.equal(exp.code, 0);
    assert.match(exp.out, /--instances <list>/);
  });

  it("export haproxy|nginx prints the gateway package's config for the given instances and policy", async () => {
    const h = await run(
      'export',
      'haproxy',
      '--balance',
      'sticky',
      '--instances',
      '10.0.0.1:3000,10.0.0.2:3000',
    );
    assert.equal(h.code, 0);
    assert.equal(h.err, '');
    assert.match(h.out, /10\.0\.0\.1:3000/);
    assert.match(h.out, /10\.0\.0\.2:3000/);
    assert.match(h.out, /cookie sl\.route insert/);
    // Liveness, as `stateline up` routes by; the body limit as the gateway's.
    assert.match(h.out, /option httpchk GET \/healthz$/m);
    assert.match(h.out, /req\.hdr_val\(content-length\) gt 1048576/);
    const n = await run(
      'export',
      'nginx',
      '--balance',
      'hash',
      '--instances',
      '[::1]:3000',
      '--max-body-bytes',
      '65536',
    );
    assert.equal(n.code, 0);
    assert.match(n.out, /client_max_body_size 65536;/);
    assert.match(n.out, /upstream/);
    assert.match(n.out, /\[::1\]:3000/);
  });
});

describe(
  'stateline (the real binary)',
  { skip: !existsSync(BUILT) && 'packages/lab is not built: run npm run build' },
  () => {
    const started: ChildProcess[] = [];
    after(() => {
      for (const c of started) if (c.exitCode === null) c.kill('SIGKILL');
    });

    /** Starts `stateline up`, resolves with its one stdout line (the URL). */
    const up = async (detached = false, ...extra: string[]) => {
      const store = `sqlite:${join(dir, `state-${started.length}.db`)}`;
      const argv = [BIN, 'up', '--app', CLUSTER_APP, '--port', '0', '--store', store, ...extra];
      const child = spawn(process.execPath, argv, {
        cwd: dir,
        stdio: ['ignore', 'pipe', 'pipe'],
        detached,
      });
      started.push(child);
      let out = '';
      let err = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      const url: string = await eventually(() => (out.includes('\n') ? out.trim() : ''), 30_000);
      return { child, url, exited, out: () => out, err: () => err };
    };

    it('up --port 0 prints one line with the URL; /api/whoami answers 200; a kill and a restart print one stderr line each; SIGTERM → exit 0, no child left', async () => {
      const c = await up();
      assert.match(c.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      const who = await getJson<{ instance: string; strategy: string }>(`${c.url}/api/whoami`);
      assert.equal(who.status, 200);
      assert.match(who.body.instance, /^i[123]$/);
      assert.equal(who.body.strategy, 'server');
      const status = await getJson<ClusterStatus>(`${c.url}/_stateline/status`);
      const pids = status.body.instances.map((i) => i.pid!);
      assert.equal(pids.length, 3);
      assert.ok(pids.every(alive));
      // A kill and a restart from the control API: one console line each, on stderr.
      const post = (what: string) => fetch(`${c.url}/_stateline/instances/i2/${what}`, { method: 'POST' });
      assert.equal((await post('kill')).status, 200);
      await eventually(() => /i2 was killed \(SIGKILL\)/.test(c.err()), 10_000);
      assert.equal((await post('start')).status, 200);
      await eventually(() => /i2 restarted \(pid \d+\)/.test(c.err()), 10_000);
      const lines = c
        .err()
        .split('\n')
        .filter((l) => /^stateline: \d\d:\d\d:\d\d i2 /.test(l));
      assert.equal(lines.length, 2, c.err());
      pids[1] = (await getJson<ClusterStatus>(`${c.url}/_stateline/status`)).body.instances[1]!.pid!;
      c.child.kill('SIGTERM');
      assert.equal(await c.exited, 0);
      assert.equal(c.out().trim().split('\n').length, 1, 'one line on stdout');
      assert.equal(
        c
          .err()
          .split('\n')
          .filter((l) => / i\d (was killed|exited|restarted)/.test(l)).length,
        2,
        'a shutdown prints no event',
      );
      assert.ok(
        pids.every((p) => !alive(p)),
        'no instance outlives it',
      );
    });

    it('Ctrl-C (SIGINT to the whole process group) drains and exits 0', async () => {
      const c = await up(true, '--instances', '2');
      const status = await getJson<ClusterStatus>(`${c.url}/_stateline/status`);
      const pids = status.body.instances.map((i) => i.pid!);
      process.kill(-c.child.pid!, 'SIGINT');
      assert.equal(await c.exited, 0, c.err());
      assert.ok(pids.every((p) => !alive(p)));
    });

    it('up without --app, STATELINE_APP or "stateline.app" in ./package.json → exit 2, one line saying what to pass', () => {
      const env = { ...process.env };
      delete env.STATELINE_APP;
      const r = spawnSync(process.execPath, [BIN, 'up', '--port', '0'], { encoding: 'utf8', cwd: dir, env });
      assert.equal(r.status, 2);
      assert.equal(r.stdout, '');
      assert.match(
        r.stderr,
        /^stateline: no app to run: pass --app <module>, set STATELINE_APP, or add [^\n]+\n$/,
      );
      const missing = spawnSync(process.execPath, [BIN, 'up'], {
        encoding: 'utf8',
        cwd: dir,
        env: { ...env, STATELINE_APP: 'nowhere/server.js' },
      });
      assert.equal(missing.status, 2);
      assert.match(
        missing.stderr,
        /^stateline: STATELINE_APP: no such file: nowhere\/server\.js [^\n]*--app[^\n]*\n$/,
      );
    });

    it('up --instances 0 and up --balance nope → exit 2, one line on stderr', () => {
      for (const args of [
        ['--instances', '0'],
        ['--balance', 'nope'],
      ]) {
        const r = spawnSync(process.execPath, [BIN, 'up', ...args], { encoding: 'utf8', cwd: dir });
        assert.equal(r.status, 2);
        assert.equal(r.stdout, '');
        assert.match(r.stderr, /^stateline: [^\n]+\n$/);
      }
    });
  },
);
