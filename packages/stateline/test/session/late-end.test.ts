import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryBus } from '../../src/bus/memory-bus.js';
import { StatelineError } from '../../src/errors.js';
import { createSessions } from '../../src/session/index.js';
import { ForwardingStore } from '../../src/store/decorators/forwarding-store.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import type { CreateOptions, UpdateOptions } from '../../src/store/types.js';
import type { SessionManager } from '../../src/session/types.js';
import { Jar, KEY_A, request } from './client.js';

/**
 * One instance's link to a shared Store, which can be cut: reads answer (they went out before the
 * cut), every write fails at once for its caller, as a call past its timeout does, but is held and
 * lands on the Store at {@link heal} (TCP delivers what was sent once the link is back).
 */
class CutLink extends ForwardingStore {
  cut = false;
  private readonly held: (() => Promise<unknown>)[] = [];

  private write<T>(op: () => Promise<T>): Promise<T> {
    if (!this.cut) return op();
    this.held.push(op);
    return Promise.reject(
      new StatelineError('SL_ERR_STORE_UNAVAILABLE', 'test store: took longer than 2000 ms'),
    );
  }

  /** The link is back: the writes sent while it was cut reach the Store, in order. How many. */
  async heal(): Promise<number> {
    this.cut = false;
    const n = this.held.length;
    for (const op of this.held.splice(0)) await op();
    return n;
  }

  override create(key: string, value: string, options?: CreateOptions) {
    return this.write(() => this.inner.create(key, value, options));
  }
  override update(key: string, value: string, options?: UpdateOptions) {
    return this.write(() => this.inner.update(key, value, options));
  }
  override delete(key: string) {
    return this.write(() => this.inner.delete(key));
  }
  override touch(key: string, ttl: number | null) {
    return this.write(() => this.inner.touch(key, ttl));
  }
  override indexAdd(owner: string, member: string, expiresAt: number | null) {
    return this.write(() => this.inner.indexAdd(owner, member, expiresAt));
  }
  override indexRemove(owner: string, member: string) {
    return this.write(() => this.inner.indexRemove(owner, member));
  }
}

/** Two instances of `strategy` on one Store (and one Bus); `a` reaches the Store through a link that can be cut. */
async function twoInstances(strategy: 'server' | 'hybrid') {
  const store = new MemoryStore();
  const link = new CutLink(store);
  const hub = {};
  const bus = () => (strategy === 'hybrid' ? { bus: new MemoryBus({ hub }) } : {});
  const a = await createSessions({ strategy, keys: [KEY_A], store: link, ...bus() });
  const b = await createSessions({ strategy, keys: [KEY_A], store, ...bus() });
  return { store, link, a, b, close: () => Promise.all([a.close(), b.close()]) };
}

/**
 * Who the session the jar holds belongs to, once a write to it went through (a near cache may
 * still show a record the Store no longer holds; the write goes to the Store).
 */
async function signedIn(m: SessionManager, jar: Jar): Promise<string | null> {
  const r = await request(m, jar, async (s) => {
    await s.update('seen', (n: number | undefined) => (n ?? 0) + 1);
    return s.userId;
  });
  return r.value;
}

for (const strategy of ['server', 'hybrid'] as const)
  describe(`an end of a session that lands late does not end a later login [${strategy}]`, () => {
    it(`[${strategy}] a logout answered 503 whose delete lands after the next login leaves that login signed in`, async () => {
      const { link, a, b, close } = await twoInstances(strategy);
      const jar = new Jar();
      await request(b, jar, (s) => s.login('alice'));
      // The logout runs on `a`: its session loaded, then the link to the Store is cut.
      const loggingOut = await a.load(jar.context());
      link.cut = true;
      await assert.rejects(loggingOut.destroy(), { code: 'SL_ERR_STORE_UNAVAILABLE' });
      // The client does not know whether it is logged out: it logs in again, on `b`.
      const again = await request(b, jar, (s) => s.login('alice'));
      assert.equal(again.session.userId, 'alice');
      assert.ok((await link.heal()) > 0, 'the logout sent something while cut');
      assert.equal(await signedIn(b, jar), 'alice', 'the login answered after the logout keeps its session');
      await close();
    });

    it(`[${strategy}] a log-out-everywhere answered 503 whose deletes land after the next login leaves it signed in`, async () => {
      const { link, a, b, close } = await twoInstances(strategy);
      const jar = new Jar();
      await request(b, jar, (s) => s.login('alice'));
      link.cut = true;
      await assert.rejects(a.revokeAll('alice'), { code: 'SL_ERR_STORE_UNAVAILABLE' });
      await request(b, jar, (s) => s.login('alice'));
      assert.ok((await link.heal()) > 0);
      assert.equal(await signedIn(b, jar), 'alice');
      await close();
    });

    it(`[${strategy}] a revoke of one session answered 503 that lands after its next login leaves it signed in`, async () => {
      const { link, a, b, close } = await twoInstances(strategy);
      const jar = new Jar();
      const first = await request(b, jar, (s) => s.login('alice'));
      const handle = first.session.handle!;
      link.cut = true;
      await assert.rejects(a.revoke(handle, { userId: 'alice' }), { code: 'SL_ERR_STORE_UNAVAILABLE' });
      await request(b, jar, (s) => s.login('alice'));
      assert.ok((await link.heal()) > 0);
      assert.equal(await signedIn(b, jar), 'alice');
      await close();
    });

    it(`[${strategy}] a logout that reaches the Store still ends the session, its cookie and its index entry`, async () => {
      const { store, a, b, close } = await twoInstances(strategy);
      const jar = new Jar();
      const first = await request(b, jar, (s) => s.login('alice'));
      const handle = first.session.handle!;
      const old = jar.clone();
      const out = await request(a, jar, (s) => s.destroy());
      assert.ok(
        out.setCookie.some((c) => /Max-Age=0/i.test(c)),
        'the cookie is cleared',
      );
      assert.equal((await request(b, old, (s) => s.userId)).value, null, 'the old cookie is signed out');
      assert.deepEqual(await store.indexMembers('user:alice'), []);
      assert.deepEqual(await b.list('alice'), []);
      assert.notEqual(handle, undefined);
      await close();
    });

    it(`[${strategy}] log-out-everywhere and revoke still end live sessions`, async () => {
      const { a, b, close } = await twoInstances(strategy);
      const phone = new Jar();
      const laptop = new Jar();
      const tablet = new Jar();
      await request(b, phone, (s) => s.login('alice'));
      await request(b, laptop, (s) => s.login('alice'));
      const t = await request(b, tablet, (s) => s.login('alice'));
      assert.equal(await a.revoke(t.session.handle!, { userId: 'alice' }), true);
      assert.equal((await request(b, tablet, (s) => s.userId)).value, null);
      assert.equal(await a.revokeAll('alice'), 2);
      assert.equal((await request(b, phone, (s) => s.userId)).value, null);
      assert.equal((await request(b, laptop, (s) => s.userId)).value, null);
      await close();
    });
  });
