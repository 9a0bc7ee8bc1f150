/**
 * `stateline lab` option parsing: config names (grammar and defaults), durations, fault lists,
 * which app runs without `--app` (STATELINE_APP, package.json's `stateline.app`), the app's
 * workload export, and through main(): every bad option is one line on stderr and exit 2, with
 * nothing started.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { main } from '../src/cli.js';
import { OptionError } from '../src/cluster-options.js';
import { resolveApp } from '../src/run/app-module.js';
import { loadWorkload } from '../src/run/workload-module.js';
import { CLUSTER_APP } from './support.js';
import { ALL_CONFIGS, parseConfig, parseConfigs, parseSwitch } from '../src/run/config.js';
import { parseDuration, parseFaults } from '../src/run/options.js';
import { runFaults } from '../src/run/faults.js';

async function run(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

describe('lab config names', () => {
  it('parses strategy, then store / balance / replication in any order, with defaults', () => {
    assert.deepEqual(parseConfig('memory/sticky/backup'), {
      name: 'memory/sticky/backup',
      strategy: 'memory',
      store: 'sqlite',
      bus: 'ipc',
      balance: 'sticky',
      replication: 'backup',
      workload: null,
      credentials: 'cookie',
      switchTo: null,
    });
    assert.deepEqual(parseConfig('token'), {
      name: 'token',
      strategy: 'token',
      store: 'sqlite',
      bus: 'ipc',
      balance: 'round-robin',
      replication: 'off',
      workload: null,
      credentials: 'cookie',
      switchTo: null,
    });
    assert.deepEqual(parseConfig('hybrid/redis'), {
      name: 'hybrid/redis',
      strategy: 'hybrid',
      store: 'redis',
      bus: 'ipc',
      balance: 'round-robin',
      replication: 'off',
      workload: null,
      credentials: 'cookie',
      switchTo: null,
    });
    assert.equal(parseConfig('server/bearer').credentials, 'bearer');
    assert.equal(parseConfig('hybrid/bearer/redis').credentials, 'bearer');
    assert.throws(
      () => parseConfig('server/bearer/cookie'),
      /credentials \(cookie, bearer\), or is given twice/,
    );
    assert.equal(parseSwitch('server/bearer>hybrid').switchTo?.credentials, 'bearer');
    assert.throws(
      () => parseSwitch('server/bearer>hybrid/cookie'),
      /switches the credentials \(bearer to cookie\)/,
    );
    assert.equal(parseConfig('server/sticky/postgres').store, 'postgres');
    assert.equal(parseConfig('server/sticky/postgres').balance, 'sticky');
    assert.deepEqual(
      [parseConfig('hybrid/redis/nats').bus, parseConfig('server/nats').store, parseConfig('token/ipc').bus],
      ['nats', 'sqlite', 'ipc'],
    );
  });

  it("first>second is a strategy switch that keeps the first config's store, bus and balance", () => {
    const [a, b, c] = parseConfigs('token>server,server>hybrid,memory/sticky/backup>server');
    assert.equal(a!.name, 'token>server');
    assert.equal(a!.strategy, 'token');
    assert.equal(a!.switchTo?.strategy, 'server');
    assert.equal(b!.switchTo?.strategy, 'hybrid');
    assert.deepEqual(c!.switchTo, {
      name: 'server',
      strategy: 'server',
      store: 'sqlite',
      bus: 'ipc',
      balance: 'sticky',
      replication: 'off',
      workload: null,
      credentials: 'cookie',
      switchTo: null,
    });
    assert.equal(parseSwitch('server/nats>hybrid').switchTo?.bus, 'nats');
    assert.equal(c!.replication, 'backup');
    assert.equal(parseSwitch('server/redis>hybrid').switchTo?.store, 'redis');
  });

  it("entities[/store][/bus][/balance] runs the app's workloads.entities on the server strategy", () => {
    assert.deepEqual(parseConfig('entities/redis'), {
      name: 'entities/redis',
      strategy: 'server',
      store: 'redis',
      bus: 'ipc',
      balance: 'round-robin',
      replication: 'off',
      workload: 'entities',
      credentials: 'cookie',
      switchTo: null,
    });
    assert.equal(parseConfig('entities').store, 'sqlite');
    assert.throws(() => parseConfig('entities/server'), OptionError);
    assert.throws(() => parseConfigs('entities>server'), OptionError);
    assert.throws(() => parseConfigs('server>entities'), OptionError);
  });

  for (const bad of [
    'token>server>hybrid',
    'server/redis>hybrid/postgres',
    'server>hybrid/nats',
    'memory/sticky>server/hash',
    'token>token',
    'token>',
  ])
    it(`refuses the switch ${JSON.stringify(bad)} with one line`, () => {
      assert.throws(() => parseConfigs(bad), OptionError);
    });

  it('all = the nine documented configs, in order; a list keeps its order', () => {
    assert.deepEqual(
      parseConfigs('all').map((c) => c.name),
      [...ALL_CONFIGS],
    );
    assert.equal(ALL_CONFIGS.length, 9);
    assert.deepEqual(
      parseConfigs('token, server/sqlite').map((c) => c.name),
      ['token', 'server/sqlite'],
    );
  });

  for (const bad of [
    'nope',
    'server/mongo',
    'server/redis/redis',
    'server/nats/ipc',
    'server/backup',
    'token/all',
    '',
    'token,,server',
    'token,token',
  ])
    it(`refuses ${JSON.stringify(bad)}`, () => assert.throws(() => parseConfigs(bad), OptionError));
});

describe('lab durations and faults', () => {
  it('reads ms, s, m and bare seconds; 2 s to 60 m', () => {
    assert.equal(parseDuration('20s'), 20_000);
    assert.equal(parseDuration('2500ms'), 2500);
    assert.equal(parseDuration('1.5m'), 90_000);
    assert.equal(parseDuration('30'), 30_000);
    for (const bad of ['1s', '61m', 'x', '-5s', '5h', ''])
      assert.throws(() => parseDuration(bad), OptionError, bad);
  });

  it('reads fault lists; none is empty; restart needs kill', () => {
    assert.deepEqual(parseFaults('kill,restart,store-restart'), ['kill', 'restart', 'store-restart']);
    assert.deepEqual(parseFaults('none'), []);
    assert.deepEqual(parseFaults('store-restart'), ['store-restart']);
    assert.throws(() => parseFaults('restart'), /restart needs kill/);
    assert.throws(() => parseFaults('kill,kill'), OptionError);
    assert.throws(() => parseFaults('explode'), OptionError);
  });
});

describe('the app without --app', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lab-app-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const project = (pkg: unknown, files: string[] = []) => {
    const cwd = mkdtempSync(join(dir, 'p-'));
    if (pkg !== undefined) writeFileSync(join(cwd, 'package.json'), JSON.stringify(pkg));
    for (const f of files) writeFileSync(join(cwd, f), 'export {};\n');
    return cwd;
  };

  it('takes STATELINE_APP first, then "stateline.app" in the working directory\'s package.json', () => {
    const cwd = project({ stateline: { app: 'server.js' } }, ['server.js', 'other.mjs']);
    assert.equal(resolveApp({ cwd, env: {} }), join(cwd, 'server.js'));
    assert.equal(resolveApp({ cwd, env: { STATELINE_APP: 'other.mjs' } }), join(cwd, 'other.mjs'));
    assert.equal(resolveApp({ cwd: dir, env: { STATELINE_APP: CLUSTER_APP } }), CLUSTER_APP);
  });

  it('without either, says in one line what to pass', () => {
    for (const cwd of [dir, project({ name: 'x' }), project({ stateline: {} })])
      assert.throws(
        () => resolveApp({ cwd, env: {} }),
        oneLineError(
          /^no app to run: pass --app <module>, set STATELINE_APP, or add "stateline": \{ "app": "<module>" \}/,
        ),
      );
  });

  it('names where a missing module was named, in one line', () => {
    const cwd = project({ stateline: { app: 'dist/server.js' } });
    assert.throws(
      () => resolveApp({ cwd, env: {} }),
      oneLineError(/^"stateline\.app" in package\.json: no such file: dist\/server\.js .*--app <module>/),
    );
    assert.throws(
      () => resolveApp({ cwd, env: { STATELINE_APP: 'gone.js' } }),
      oneLineError(/^STATELINE_APP: no such file: gone\.js/),
    );
    assert.throws(
      () => resolveApp({ cwd: project({ stateline: { app: 3 } }), env: {} }),
      oneLineError(/must be a module path/),
    );
  });
});

describe('the workload an app module exports', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lab-workload-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const module = (name: string, source: string) => {
    const path = join(dir, name);
    writeFileSync(path, source);
    return path;
  };

  it('is read from the module, which is imported without starting (main-module guard)', async () => {
    const path = module(
      'good.mjs',
      "export const workload = { init: () => ({}), actions: [{ name: 'a', weight: 1, run: async () => {} }] };\n",
    );
    const w = await loadWorkload(path);
    assert.deepEqual(
      w.actions.map((a) => a.name),
      ['a'],
    );
  });

  it('a named workload comes from `workloads`; a missing or malformed one is refused in one line', async () => {
    const good = "{ init: () => ({}), actions: [{ name: 'e', weight: 1, run: async () => {} }] }";
    const w = await loadWorkload(
      module('named.mjs', `export const workloads = { entities: ${good} };\n`),
      'entities',
    );
    assert.deepEqual(
      w.actions.map((a) => a.name),
      ['e'],
    );
    await assert.rejects(
      loadWorkload(module('unnamed.mjs', `export const workload = ${good};\n`), 'entities'),
      oneLineError(/exports no workloads\.entities, so the lab cannot run the entities config/),
    );
    await assert.rejects(
      loadWorkload(
        module('bad-hook.mjs', `export const workloads = { entities: { ...${good}, verify: 1 } };\n`),
        'entities',
      ),
      oneLineError(/workloads\.entities has a verify that is not a function/),
    );
  });

  it('an app without one, or with a malformed one, is refused in one line', async () => {
    await assert.rejects(
      loadWorkload(CLUSTER_APP),
      oneLineError(/cluster-app\.ts exports no workload, so the lab cannot drive it/),
    );
    const cases: [string, RegExp][] = [
      ['export const workload = 3;', /its workload is not an object/],
      ['export const workload = { actions: [] };', /has no init\(user\)/],
      ['export const workload = { init() {}, actions: [] };', /has no actions/],
      [
        "export const workload = { init() {}, actions: [{ name: 'a', weight: 0, run() {} }] };",
        /weight above 0/,
      ],
      [
        "export const workload = { init() {}, actions: [{ name: 'a', weight: 1, run() {} }], audit: 1 };",
        /audit that is not a function/,
      ],
    ];
    for (const [i, [source, pattern]] of cases.entries())
      await assert.rejects(loadWorkload(module(`bad-${i}.mjs`, source + '\n')), oneLineError(pattern));
  });

  it('stateline lab --app <module without a workload> → exit 2, one line, nothing started', async () => {
    const r = await run('lab', '--app', CLUSTER_APP, '--configs', 'server/sqlite', '--out', join(dir, 'out'));
    assert.equal(r.code, 2);
    assert.equal(r.out, '');
    assert.match(r.err, /^stateline: \S+cluster-app\.ts exports no workload[^\n]+\n$/);
  });
});

function oneLineError(pattern: RegExp) {
  return (err: Error) =>
    err instanceof OptionError && pattern.test(err.message) && !err.message.includes('\n');
}

describe('stateline lab (main)', () => {
  const invalid: string[][] = [
    ['lab', '--configs', 'nope'],
    ['lab', '--configs', 'memory/round-robin/backup/all'],
    ['lab', '--configs', 'server/backup'],
    ['lab', '--duration', 'soon'],
    ['lab', '--duration', '1s'],
    ['lab', '--users', '0'],
    ['lab', '--users', '1001'],
    ['lab', '--users', 'many'],
    ['lab', '--instances', '0'],
    ['lab', '--faults', 'restart'],
    ['lab', '--faults', 'meteor'],
    ['lab', '--seed', '-1'],
    ['lab', '--seed', '4294967296'],
    ['lab', '--app', 'no/such/app.js'],
    ['lab', '--postgres', 'mysql://x'],
    ['lab', '--duration'],
    ['lab', '--bogus'],
    ['lab', 'extra'],
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

  it('names the option and what it accepts', async () => {
    assert.match((await run('lab', '--configs', 'nope')).err, /--configs: "nope" must start with a strategy/);
    assert.match((await run('lab', '--duration', 'soon')).err, /--duration must be like 30s, 2m or 2500ms/);
    assert.match((await run('lab', '--faults', 'restart')).err, /restart needs kill/);
  });

  it('--help lists every option', async () => {
    const r = await run('lab', '--help');
    assert.equal(r.code, 0);
    for (const o of [
      '--configs',
      '--duration',
      '--users',
      '--instances',
      '--faults',
      '--out',
      '--seed',
      '--app',
      '--postgres',
    ])
      assert.match(r.out, new RegExp(o));
  });
});

describe('fault schedule', () => {
  it('a kill hits the instance the workload names, and the restart starts that one', async () => {
    const done: string[] = [];
    let now = 0;
    const recorded = await runFaults(
      [
        { at: 10, kind: 'kill' },
        { at: 20, kind: 'restart' },
      ],
      {
        victim: 'i1',
        chooseVictim: async () => 'i3',
        kill: async (id) => void done.push(`kill ${id}`),
        start: async (id) => void done.push(`start ${id}`),
        now: () => (now += 5),
      },
      () => false,
    );
    assert.deepEqual(done, ['kill i3', 'start i3']);
    assert.deepEqual(
      recorded.map((f) => `${f.kind} ${f.target}`),
      ['kill i3', 'restart i3'],
    );
  });

  it('no name (null or a throw): the seeded victim', async () => {
    for (const chooseVictim of [async () => null, async () => Promise.reject(new Error('no owner'))]) {
      const done: string[] = [];
      let now = 0;
      await runFaults(
        [{ at: 1, kind: 'kill' }],
        {
          victim: 'i2',
          chooseVictim,
          kill: async (id) => void done.push(id),
          start: async () => {},
          now: () => (now += 5),
        },
        () => false,
      );
      assert.deepEqual(done, ['i2']);
    }
  });
});
