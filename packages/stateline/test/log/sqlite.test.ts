import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isStatelineError } from '../../src/errors.js';
import { createLog } from '../../src/log/index.js';
import { createStore } from '../../src/store/index.js';
import { uniquePrefix } from '../support/services.js';
import { runLogConformance } from './log.case.js';

const dir = mkdtempSync(join(tmpdir(), 'sl-sqlite-log-'));
const file = join(dir, 'state.db');
after(() => rmSync(dir, { recursive: true, force: true }));

// Every make() opens a new better-sqlite3 connection to one file: "two connections" are two Database objects.
runLogConformance({
  backend: 'sqlite',
  make: (prefix, retention) =>
    createLog({ type: 'sqlite', path: file, prefix, ...(retention ? { retention } : {}) }),
});

describe('sqlite log [sqlite]', () => {
  it('[sqlite] two OS processes appending 100 each to a brand-new file get unique consecutive offsets', async () => {
    const fresh = join(dir, 'procs', 'fresh.db'); // neither the file nor its directory exists yet
    const prefix = uniquePrefix('log-sqlite-procs');
    const worker = new URL('./fixtures/append-worker.ts', import.meta.url).pathname;
    const kids = ['a', 'b'].map((tag) =>
      fork(worker, [fresh, prefix, tag, '100'], {
        execArgv: ['--import', 'tsx'],
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      }),
    );
    const results = kids.map(
      (k) =>
        new Promise<number[]>((resolve, reject) => {
          k.on('message', (m) => {
            if (typeof m === 'object' && m !== null && 'offsets' in m) resolve(m.offsets as number[]);
          });
          k.once('exit', (code) => reject(new Error(`worker exited with ${code} before reporting`)));
        }),
    );
    await Promise.all(kids.map((k) => new Promise((r) => k.once('message', r))));
    for (const k of kids) k.send('go');
    const [a, b] = (await Promise.all(results)) as [number[], number[]];
    assert.deepEqual(
      [...a, ...b].sort((x, y) => x - y),
      Array.from({ length: 200 }, (_, i) => i + 1),
    );
    for (const own of [a, b])
      assert.deepEqual(
        own,
        [...own].sort((x, y) => x - y),
        'each process sees its offsets grow',
      );
    const log = await createLog({ type: 'sqlite', path: fresh, prefix });
    const read = await log.read('race', 0, { limit: 500 });
    assert.equal(read.head, 200);
    const expected = new Map([
      ...a.map((o, i) => [o, `a:${i}`] as const),
      ...b.map((o, i) => [o, `b:${i}`] as const),
    ]);
    assert.deepEqual(
      read.entries.map((e) => [e.offset, e.data]),
      [...expected].sort((x, y) => x[0] - y[0]),
    );
    await log.close();
  });

  it('[sqlite] Store and Log share one file', async () => {
    const prefix = uniquePrefix('shared');
    const store = await createStore({ type: 'sqlite', path: file, prefix });
    const log = await createLog(`sqlite:${file}?prefix=${encodeURIComponent(prefix)}`);
    await store.create('k', 'v');
    assert.equal((await log.append('k', 'entry')).offset, 1);
    assert.equal((await store.get('k'))?.value, 'v');
    assert.deepEqual(
      (await log.read('k', 0)).entries.map((e) => e.data),
      ['entry'],
    );
    await store.close();
    await log.close();
  });

  it('[sqlite] the epoch and offsets survive reopening the file', async () => {
    const prefix = uniquePrefix('reopen');
    const first = await createLog({ type: 'sqlite', path: file, prefix });
    const { epoch } = await first.append('s', 'one');
    await first.close();
    const again = await createLog({ type: 'sqlite', path: file, prefix });
    const next = await again.append('s', 'two');
    assert.deepEqual([next.epoch, next.offset], [epoch, 2]);
    const read = await again.read('s', 1, { epoch });
    assert.deepEqual([read.complete, read.entries.map((e) => e.data)], [true, ['two']]);
    await again.close();
  });

  it('[sqlite] retention is enforced on the table, not just hidden', async () => {
    const prefix = uniquePrefix('trim');
    const log = await createLog({ type: 'sqlite', path: file, prefix, retention: { maxCount: 3 } });
    for (let i = 1; i <= 10; i++) await log.append('t', String(i));
    const { default: Database } = await import('better-sqlite3');
    const raw = new Database(file);
    const stored = raw
      .prepare('SELECT "offset" AS o FROM stateline_log WHERE stream = ? ORDER BY 1')
      .all(`${prefix}t`);
    assert.deepEqual(stored, [{ o: 8 }, { o: 9 }, { o: 10 }]);
    raw.close();
    await log.close();
  });

  it('[sqlite] an invalid retention is refused at open', async () => {
    await assert.rejects(createLog({ type: 'sqlite', path: file, retention: { maxCount: 0 } }), (err) =>
      isStatelineError(err, 'SL_ERR_INVALID_OPTION'),
    );
  });
});
