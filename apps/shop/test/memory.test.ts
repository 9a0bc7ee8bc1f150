/**
 * The shop with `memory` sessions and sticky balancing (with and without `backup` replication):
 * each session lives in the process of the instance it was made on, yet the sessions page lists
 * every instance's sessions of the user, and logout-all and revoke end them on every instance.
 * Old cookies are sent straight to each instance, so an instance that kept a session would show.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startCluster, type Cluster } from '@stateline/lab';
import { Client, expectProblem, instanceUrls, SHOP_APP, sleep, within } from './support.js';

type List = { sessions: { handle: string; userAgent: string | null; current: boolean }[] };
type Who = { instance: string; user: { id: string } | null };

/** The user an instance sees for this cookie, sent as is (the client's jar is left alone). */
async function userWith(cookie: string, base: string): Promise<string | null> {
  const probe = new Client(base);
  const r = await probe.req<Who>('GET', '/api/whoami', { noCookie: true, headers: { cookie } });
  assert.equal(r.status, 200);
  return r.body.user?.id ?? null;
}

/** Waits until no instance accepts `cookie`; returns the time from `since` (ms). */
async function refusedEverywhere(cookie: string, instances: { url: string }[], since: number) {
  await Promise.all(instances.map((i) => within(1000, async () => (await userWith(cookie, i.url)) === null)));
  return Date.now() - since;
}

for (const replication of ['off', 'backup'] as const) {
  describe(`shop: memory sessions, sticky balancing, replication ${replication}`, () => {
    let cluster: Cluster | undefined;
    const dir = mkdtempSync(join(tmpdir(), `shop-memory-${replication}-`));

    before(async () => {
      cluster = await startCluster({
        app: SHOP_APP,
        port: 0,
        instances: 3,
        stdio: 'ignore',
        strategy: 'memory',
        balance: 'sticky',
        replication,
        store: `sqlite:${join(dir, 'shop.db')}`,
        env: { LOG_LEVEL: 'silent', STATELINE_SHOP_USERS: '3' },
      });
    });
    after(async () => {
      await cluster?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    /** A device of `user` logged in on one instance (its session lives there). */
    async function deviceOn(url: string, user: string, agent: string): Promise<Client> {
      const c = new Client(url, agent);
      await c.login(user);
      return c;
    }

    /** One device of `user` per instance, each session made on (and held by) its own instance. */
    async function devicesOfUser(user: string) {
      const instances = await instanceUrls(cluster!);
      assert.equal(instances.length, 3);
      const devices = await Promise.all(instances.map((i, k) => deviceOn(i.url, user, `${user}-${k}`)));
      for (const [k, d] of devices.entries()) {
        const who = await d.req<Who>('GET', '/api/whoami');
        assert.equal(who.body.instance, instances[k]!.id, 'each session was made on its own instance');
      }
      return { instances, devices };
    }

    it(`[memory/sticky/${replication}] every instance lists the user's sessions held by every instance`, async () => {
      const { devices } = await devicesOfUser('alice');
      for (const [k, d] of devices.entries()) {
        const r = await d.req<List>('GET', '/api/sessions');
        assert.equal(r.status, 200);
        assert.deepEqual(r.body.sessions.map((s) => s.userAgent).sort(), ['alice-0', 'alice-1', 'alice-2']);
        const mine = r.body.sessions.filter((s) => s.current);
        assert.equal(mine.length, 1);
        assert.equal(mine[0]!.userAgent, `alice-${k}`);
      }
    });

    it(`[memory/sticky/${replication}] revoking a session held by another instance: 204, and every instance refuses its cookie within 1 s`, async () => {
      const { instances, devices } = await devicesOfUser('user1');
      const other = await deviceOn(instances[2]!.url, 'user2', 'user2-0');
      const target = await devices[1]!.req<List>('GET', '/api/sessions');
      const handle = target.body.sessions.find((s) => s.current)!.handle;
      // Device 0 (on instance 0) revokes device 1's session, held by instance 1.
      const cookie1 = devices[1]!.cookie;
      const t0 = Date.now();
      const del = await devices[0]!.req('DELETE', `/api/sessions/${handle}`);
      assert.equal(del.status, 204, del.text);
      const ms = await refusedEverywhere(cookie1, instances, t0);
      process.stdout.write(`# ${replication}: revoked cookie refused on all 3 instances after ${ms} ms\n`);
      expectProblem(await devices[0]!.req('DELETE', `/api/sessions/${handle}`), 404, 'SL_ERR_NOT_FOUND');
      expectProblem(
        await devices[0]!.req('DELETE', `/api/sessions/${'A'.repeat(22)}`),
        404,
        'SL_ERR_NOT_FOUND',
      );
      // Another user's session (on instance 2) is not this user's to end, and keeps working.
      const theirs = (await other.req<List>('GET', '/api/sessions')).body.sessions[0]!;
      expectProblem(
        await devices[0]!.req('DELETE', `/api/sessions/${theirs.handle}`),
        404,
        'SL_ERR_NOT_FOUND',
      );
      assert.equal(await userWith(other.cookie, instances[2]!.url), 'user2');
      assert.equal(await userWith(devices[0]!.cookie, instances[0]!.url), 'user1');
      assert.equal(await userWith(devices[2]!.cookie, instances[2]!.url), 'user1');
    });

    it(`[memory/sticky/${replication}] logout-all refuses the user's cookies on every instance within 1 s`, async () => {
      const { instances, devices } = await devicesOfUser('user3');
      const bob = await deviceOn(instances[1]!.url, 'bob', 'bob-0');
      const cookies = devices.map((d) => d.cookie);
      const t0 = Date.now();
      assert.equal((await devices[2]!.req('POST', '/api/logout-all')).status, 204);
      let ms = 0;
      for (const cookie of cookies) ms = Math.max(ms, await refusedEverywhere(cookie, instances, t0));
      process.stdout.write(`# ${replication}: logout-all refused on all 3 instances after ${ms} ms\n`);
      expectProblem(await devices[0]!.req('GET', '/api/sessions'), 401, 'SL_ERR_UNAUTHENTICATED');
      assert.equal(await userWith(bob.cookie, instances[1]!.url), 'bob', "another user's session survives");
      // A new login afterwards works, and is the only session the user has.
      const fresh = await deviceOn(instances[0]!.url, 'user3', 'user3-new');
      const now = await fresh.req<List>('GET', '/api/sessions');
      assert.deepEqual(
        now.body.sessions.map((s) => s.userAgent),
        ['user3-new'],
      );
    });

    if (replication === 'backup') {
      it('[memory/sticky/backup] after a failover the list still shows every session of the user, and no revoked one comes back', async () => {
        const instances = await instanceUrls(cluster!);
        const [victim, survivor] = instances as [{ id: string; url: string }, { id: string; url: string }];
        const onVictim = await deviceOn(victim.url, 'carol', 'carol-victim');
        const onSurvivor = await deviceOn(survivor.url, 'carol', 'carol-survivor');
        // Bob logs out everywhere from the survivor; his session on the victim has a copy elsewhere.
        const bobVictim = await deviceOn(victim.url, 'bob', 'bob-victim');
        const bobSurvivor = await deviceOn(survivor.url, 'bob', 'bob-survivor');
        assert.equal((await bobSurvivor.req('POST', '/api/logout-all')).status, 204);
        await refusedEverywhere(bobVictim.cookie, instances, Date.now());
        const kill = await fetch(`${cluster!.url}/_stateline/instances/${victim.id}/kill`, {
          method: 'POST',
        });
        assert.ok(kill.status < 300, `kill answered ${kill.status}`);
        // The victim's client comes back on a surviving instance, still logged in, and sees both.
        const moved = new Client(survivor.url, 'carol-victim');
        moved.cookie = onVictim.cookie;
        const list = await within(5000, async () => {
          const r = await moved.req<List>('GET', '/api/sessions');
          return r.status === 200 && r.body.sessions.length === 2 ? r : undefined;
        });
        assert.ok(list);
        assert.deepEqual(list.body.sessions.map((s) => s.userAgent).sort(), [
          'carol-survivor',
          'carol-victim',
        ]);
        assert.equal(list.body.sessions.find((s) => s.current)?.userAgent, 'carol-victim');
        const other = await onSurvivor.req<List>('GET', '/api/sessions');
        assert.equal(other.body.sessions.length, 2);
        // No resurrection: bob's revoked session does not come back from a copy after the failover.
        const survivors = instances.filter((i) => i.id !== victim.id);
        for (let round = 0; round < 5; round++) {
          for (const i of survivors)
            assert.equal(await userWith(bobVictim.cookie, i.url), null, `on ${i.id}`);
          await sleep(200);
        }
      });
    }
  });
}
