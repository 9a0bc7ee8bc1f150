/**
 * `token` with no Store: it runs without better-sqlite3 (or any driver), keeps revocations and the
 * list of a user's sessions in this process, and spreads revocations over the Bus. The limits
 * stated in docs/sessions.md ("token without a Store") are checked here as they are.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { MemoryBus } from '../../src/bus/memory-bus.js';
import { createSessions } from '../../src/session/index.js';
import type { SessionManager } from '../../src/session/types.js';
import { eventually } from '../support/free-port.js';
import { Jar, KEY_A, request } from './client.js';

const here = new URL('.', import.meta.url).pathname;
const run = promisify(execFile);

describe('token strategy without a Store', () => {
  const managers: SessionManager[] = [];
  after(async () => {
    for (const m of managers) await m.close();
  });
  /** An instance on the shared in-process bus `hub`. */
  const instance = async (hub: object) => {
    const m = await createSessions({
      strategy: 'token',
      keys: [KEY_A],
      bus: new MemoryBus({ hub }),
      revocationSync: 50,
    });
    managers.push(m);
    return m;
  };
  const login = async (m: SessionManager, user: string) => {
    const jar = new Jar();
    await request(m, jar, async (s) => {
      s.set('cart', ['p-1']);
      await s.login(user);
    });
    return jar;
  };
  const who = async (m: SessionManager, jar: Jar) => (await request(m, jar.clone(), (s) => s.userId)).value;

  it('runs where better-sqlite3 cannot be resolved, and never tries to load it', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'sl-token-no-store-'));
    try {
      const { stdout } = await run(
        process.execPath,
        [
          '--import',
          import.meta.resolve('tsx'),
          '--import',
          join(here, '../support/hide-packages.mjs'),
          join(here, 'fixtures/token-without-store.ts'),
        ],
        { cwd, timeout: 60_000, env: { ...process.env, HIDE_PACKAGES: 'better-sqlite3' } },
      );
      const out = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
      assert.deepEqual(out, {
        cart: [['p-1'], 'alice'],
        listed: 1,
        revoked: 1,
        afterRevoke: null,
        storeBackend: 'memory',
        attemptsBeforeServer: 0,
        // The same process cannot open the SQLite default: the check above is a real one.
        server: 'SL_ERR_PEER_DEPENDENCY_MISSING',
        attemptsAfterServer: 1,
      });
      assert.deepEqual(readdirSync(cwd), [], 'no .stateline/state.db was created');
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  it('a revocation on one instance is refused by the others within a moment (over the Bus)', async () => {
    const hub = {};
    const [a, b] = [await instance(hub), await instance(hub)];
    const jar = await login(a, 'bob');
    assert.equal(await who(b, jar), 'bob', 'a token opens on any instance');
    await a.revokeAll('bob');
    await eventually(async () => (await who(b, jar)) === null, 1000);
    assert.equal(await who(a, jar), null);
  });

  it('revoking one session by handle on another instance refuses it everywhere, though that instance cannot say it was live', async () => {
    const hub = {};
    const [a, b] = [await instance(hub), await instance(hub)];
    const jar = await login(a, 'carol');
    const handle = (await request(a, jar.clone(), (s) => s.handle)).value!;
    assert.equal(await b.revoke(handle), false, 'b never saw this session issued');
    await eventually(async () => (await who(a, jar)) === null, 1000);
    assert.equal(await who(b, jar), null);
  });

  it('list() is per instance: it shows the sessions this instance issued', async () => {
    const hub = {};
    const [a, b] = [await instance(hub), await instance(hub)];
    await login(a, 'dave');
    await login(b, 'dave');
    await login(b, 'dave');
    assert.equal((await a.list('dave')).length, 1);
    assert.equal((await b.list('dave')).length, 2);
  });

  it('limit: an instance that was not running when a revocation was made does not know it', async () => {
    const hub = {};
    const a = await instance(hub);
    const jar = await login(a, 'erin');
    await a.revokeAll('erin');
    const late = await instance(hub);
    assert.equal(await who(late, jar), 'erin', 'the revoked token still opens on an instance started later');
    assert.equal(await who(a, jar), null);
  });
});
