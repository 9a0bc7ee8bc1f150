import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { isStatelineError } from '../../src/errors.js';
import { createBus } from '../../src/bus/index.js';
import { createLog, type Log } from '../../src/log/index.js';
import { freePort } from '../support/free-port.js';
import { POSTGRES_URL, needService, uniquePrefix } from '../support/services.js';
import { cleanUpAfter } from '../support/cleanup.js';
import { runLogConformance } from './log.case.js';

const skip = await needService('postgres');

cleanUpAfter('postgres', skip, [
  ['stateline_log', 'stream'],
  ['stateline_log_key', 'stream'],
  ['stateline_log_meta', 'stream'],
  ['stateline_log_fence', 'stream'],
]);

runLogConformance({
  backend: 'postgres',
  make: (prefix, retention) =>
    createLog({
      type: 'postgres',
      url: POSTGRES_URL,
      prefix,
      poolSize: 4,
      ...(retention ? { retention } : {}),
    }),
  bus: (prefix) => createBus({ type: 'postgres', url: POSTGRES_URL, prefix }),
  publishes: false,
  skip,
});

describe('postgres log [postgres]', { skip }, () => {
  const prefix = uniquePrefix('pg-log');
  const opened: Log[] = [];
  let raw: pg.Client;
  const open = async (retention?: { maxCount?: number; maxAge?: number }) => {
    const log = await createLog({
      type: 'postgres',
      url: POSTGRES_URL,
      prefix,
      poolSize: 4,
      ...(retention ? { retention } : {}),
    });
    opened.push(log);
    return log;
  };
  before(async () => {
    raw = new pg.Client({ connectionString: POSTGRES_URL });
    await raw.connect();
  });
  after(async () => {
    for (const l of opened) await l.close();
    await raw.query('DELETE FROM stateline_log WHERE stream LIKE $1', [`${prefix}%`]);
    await raw.query('DELETE FROM stateline_log_meta WHERE stream LIKE $1', [`${prefix}%`]);
    await raw.end();
  });
  const storedOffsets = async (stream: string) =>
    (
      await raw.query('SELECT "offset" FROM stateline_log WHERE stream = $1 ORDER BY 1', [prefix + stream])
    ).rows.map((r) => Number(r.offset));

  it('[postgres] retention by count deletes the trimmed rows in the append path', async () => {
    const log = await open({ maxCount: 3 });
    for (let i = 0; i < 10; i++) await log.append('count', `m${i}`);
    assert.deepEqual(await storedOffsets('count'), [8, 9, 10]);
    const meta = await raw.query('SELECT head, trimmed_through FROM stateline_log_meta WHERE stream = $1', [
      `${prefix}count`,
    ]);
    assert.deepEqual([Number(meta.rows[0].head), Number(meta.rows[0].trimmed_through)], [10, 7]);
  });

  it('[postgres] concurrent appends under a small maxCount keep exactly the newest entries and report the gap', async () => {
    const [a, b] = [await open({ maxCount: 5 }), await open({ maxCount: 5 })];
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) => (i % 2 ? a! : b!).append('busy', `m${i}`)),
    );
    assert.deepEqual(
      results.map((r) => r.offset).sort((x, y) => x - y),
      Array.from({ length: 60 }, (_, i) => i + 1),
    );
    const read = await a!.read('busy', 0);
    assert.deepEqual(
      read.entries.map((e) => e.offset),
      [56, 57, 58, 59, 60],
    );
    assert.equal(read.complete, false);
    assert.equal((await a!.read('busy', 55)).complete, true);
    assert.deepEqual(
      await storedOffsets('busy'),
      [56, 57, 58, 59, 60],
      'no row below the trim mark is left behind',
    );
  });

  it('[postgres] retention by age applies to reads of an idle stream at once; the rows go with the next append', async () => {
    const log = await open({ maxAge: 200 });
    await log.append('idle', 'old');
    await log.append('idle', 'older');
    await new Promise((r) => setTimeout(r, 300));
    const read = await log.read('idle', 0);
    assert.deepEqual([read.entries, read.head, read.complete], [[], 2, false]);
    assert.equal((await log.read('idle', 2)).complete, true);
    assert.deepEqual(await storedOffsets('idle'), [1, 2], 'reads never write');
    await log.append('idle', 'new');
    assert.deepEqual(await storedOffsets('idle'), [3]);
    assert.deepEqual(
      (await log.read('idle', 0)).entries.map((e) => e.data),
      ['new'],
    );
  });

  it('[postgres] entry times never go backwards within a stream', async () => {
    const log = await open();
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => log.append('clock', String(i))));
    const byOffset = results.sort((x, y) => x.offset - y.offset);
    for (let i = 1; i < byOffset.length; i++)
      assert.ok(byOffset[i]!.at >= byOffset[i - 1]!.at, `offset ${byOffset[i]!.offset}`);
  });

  it('[postgres] a second log object on the same prefix shares streams, epochs and offsets', async () => {
    const [a, b] = [await open(), await open()];
    const first = await a.append('shared', 'one');
    const second = await b.append('shared', 'two');
    assert.equal(second.offset, first.offset + 1);
    assert.equal(second.epoch, first.epoch);
    assert.deepEqual(
      (await b.read('shared', 0)).entries.map((e) => e.data),
      ['one', 'two'],
    );
  });

  it('[postgres] a log pointed at a port where nothing listens rejects with SL_ERR_LOG_UNAVAILABLE within its timeout', async () => {
    const url = new URL(POSTGRES_URL);
    url.port = String(await freePort());
    const t0 = Date.now();
    await assert.rejects(createLog({ type: 'postgres', url: url.toString(), timeout: 500 }), (err) =>
      isStatelineError(err, 'SL_ERR_LOG_UNAVAILABLE'),
    );
    assert.ok(Date.now() - t0 < 1000);
  });
});
