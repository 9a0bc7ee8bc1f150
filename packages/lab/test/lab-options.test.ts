/**
 * `stateline lab` option parsing: config names (grammar and defaults), durations, fault lists, and
 * through main(): every bad option is one line on stderr and exit 2, with nothing started.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { main } from '../src/cli.js';
import { OptionError } from '../src/cluster-options.js';
import { defaultLabApp } from '../src/lab/app-module.js';
import { ALL_CONFIGS, parseConfig, parseConfigs } from '../src/lab/config.js';
import { parseDuration, parseFaults } from '../src/lab/options.js';

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
      balance: 'sticky',
      replication: 'backup',
    });
    assert.deepEqual(parseConfig('token'), {
      name: 'token',
      strategy: 'token',
      store: 'sqlite',
      balance: 'round-robin',
      replication: 'off',
    });
    assert.deepEqual(parseConfig('hybrid/redis'), {
      name: 'hybrid/redis',
      strategy: 'hybrid',
      store: 'redis',
      balance: 'round-robin',
      replication: 'off',
    });
    assert.equal(parseConfig('server/sticky/postgres').store, 'postgres');
    assert.equal(parseConfig('server/sticky/postgres').balance, 'sticky');
  });

  it('all = the eight documented configs, in order; a list keeps its order', () => {
    assert.deepEqual(
      parseConfigs('all').map((c) => c.name),
      [...ALL_CONFIGS],
    );
    assert.equal(ALL_CONFIGS.length, 8);
    assert.deepEqual(
      parseConfigs('token, server/sqlite').map((c) => c.name),
      ['token', 'server/sqlite'],
    );
  });

  for (const bad of [
    'nope',
    'server/mongo',
    'server/redis/redis',
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

  it('says in one line that the shop cannot be found, and asks for --app', () => {
    const fail = () => {
      throw new Error('Cannot find package');
    };
    assert.throws(
      () => defaultLabApp(fail),
      (err: Error) =>
        err instanceof OptionError && /--app <module>/.test(err.message) && !err.message.includes('\n'),
    );
  });
});

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
