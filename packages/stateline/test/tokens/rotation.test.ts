/**
 * Must show 2 (one instance): refresh rotation, reuse of a rotated refresh token revokes its
 * family, two concurrent refreshes with one token (one wins, the other is reuse), `revokeAll` and
 * `revoke` end cookie sessions and token families together, and key rotation keeps old tokens
 * valid until they expire.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryBus } from '../../src/bus/memory-bus.js';
import { createStore } from '../../src/store/index.js';
import { createTokens, generateTokenKey } from '../../src/tokens/index.js';
import type { TokenKey } from '../../src/tokens/types.js';
import { Jar, request } from '../session/client.js';
import { AUDIENCE, Clock, decode, ISSUER, rig } from './fixture.js';

const refused = (code: string, message?: RegExp) => (err: unknown) =>
  (err as { code?: string }).code === code && (!message || message.test((err as Error).message));

describe('refresh tokens', () => {
  it('rotate: each refresh spends the token and gives a new pair of the same family', async () => {
    const r = await rig();
    try {
      const first = await r.tokens.issue('alice', { scopes: ['orders:read'], userAgent: 'cli/1.0' });
      assert.match(first.refreshToken, /^[\w-]{22}\.[\w-]{22}\.[\w-]{22}$/);
      const second = await r.tokens.refresh(first.refreshToken);
      assert.notEqual(second.refreshToken, first.refreshToken);
      assert.equal(second.handle, first.handle);
      assert.equal(decode(second.accessToken).payload.sid, first.handle);
      assert.deepEqual(await r.tokens.verify(second.accessToken, { scopes: ['orders:read'] }), {
        userId: 'alice',
        scopes: ['orders:read'],
        sid: first.handle,
      });
      const third = await r.tokens.refresh(second.refreshToken);
      await r.tokens.verify(third.accessToken);
      assert.deepEqual(
        (await r.sessions.list('alice')).map((s) => [s.kind, s.handle, s.userAgent]),
        [['token', first.handle, 'cli/1.0']],
      );
      assert.equal(r.tokens.metrics.refreshed, 2);
      // The Store holds hashes only: no refresh secret appears in it.
      const found = await r.sessions.store.get(`tfam:${first.handle}`);
      assert.ok(found && !found.value.includes(third.refreshToken.split('.')[2]!));
      assert.ok(!found.value.includes(third.refreshToken.split('.')[1]!));
    } finally {
      await r.close();
    }
  });

  it('reuse of a rotated refresh token revokes the family: its fresh tokens die, a metric counts it', async () => {
    const warnings: string[] = [];
    const r = await rig({ tokens: { logger: { warn: (m) => warnings.push(m) } } });
    try {
      const stolen = await r.tokens.issue('alice');
      const thief = await r.tokens.refresh(stolen.refreshToken);
      await r.tokens.verify(thief.accessToken);
      // The victim comes back with the token the thief already spent.
      await assert.rejects(
        r.tokens.refresh(stolen.refreshToken),
        refused('SL_ERR_REFRESH_INVALID', /already used/),
      );
      assert.equal(r.tokens.metrics.reuseDetected, 1);
      assert.equal(warnings.length, 1);
      await assert.rejects(r.tokens.verify(thief.accessToken), refused('SL_ERR_TOKEN_INVALID', /revoked/));
      await assert.rejects(r.tokens.verify(stolen.accessToken), refused('SL_ERR_TOKEN_INVALID', /revoked/));
      await assert.rejects(r.tokens.refresh(thief.refreshToken), refused('SL_ERR_REFRESH_INVALID'));
      assert.deepEqual(await r.sessions.list('alice'), []);
      // Another family of the same user is untouched.
      const other = await r.tokens.issue('alice');
      await r.tokens.verify(other.accessToken);
    } finally {
      await r.close();
    }
  });

  it('two concurrent refreshes with one token: exactly one wins, the other is reuse and revokes the family', async () => {
    const r = await rig();
    try {
      const pair = await r.tokens.issue('alice');
      const results = await Promise.allSettled([
        r.tokens.refresh(pair.refreshToken),
        r.tokens.refresh(pair.refreshToken),
      ]);
      const won = results.filter((x) => x.status === 'fulfilled');
      const lost = results.filter((x) => x.status === 'rejected');
      assert.equal(won.length, 1);
      assert.equal(lost.length, 1);
      assert.equal((lost[0] as PromiseRejectedResult).reason.code, 'SL_ERR_REFRESH_INVALID');
      assert.equal(r.tokens.metrics.reuseDetected, 1);
      const winner = (won[0] as PromiseFulfilledResult<{ accessToken: string; refreshToken: string }>).value;
      await assert.rejects(r.tokens.verify(winner.accessToken), refused('SL_ERR_TOKEN_INVALID'));
      await assert.rejects(r.tokens.refresh(winner.refreshToken), refused('SL_ERR_REFRESH_INVALID'));
    } finally {
      await r.close();
    }
  });

  it('refused without revoking: malformed, unknown, a forged secret for a known handle, expired', async () => {
    const clock = new Clock();
    const r = await rig({ clock });
    try {
      const pair = await r.tokens.issue('alice');
      const [handle, lineage, secret] = pair.refreshToken.split('.') as [string, string, string];
      for (const t of [
        '',
        'x',
        `${handle}.${lineage}`,
        `${handle}.${lineage}.${secret}x`,
        `${'A'.repeat(22)}.${lineage}.${secret}`,
      ])
        await assert.rejects(r.tokens.refresh(t), refused('SL_ERR_REFRESH_INVALID'), t);
      // Knowing the handle (it is the access token's sid) is not enough to revoke anything.
      await assert.rejects(
        r.tokens.refresh(`${handle}.${'B'.repeat(22)}.${secret}`),
        refused('SL_ERR_REFRESH_INVALID'),
      );
      await r.tokens.verify(pair.accessToken);
      assert.equal(r.tokens.metrics.reuseDetected, 0);
      clock.advance(30 * 86_400_000);
      await assert.rejects(r.tokens.refresh(pair.refreshToken), refused('SL_ERR_REFRESH_INVALID'));
      assert.equal(r.tokens.metrics.reuseDetected, 0);
    } finally {
      await r.close();
    }
  });
});

describe('token families are sessions of the manager', () => {
  for (const strategy of ['server', 'token', 'hybrid'] as const) {
    it(`[${strategy}] list shows cookie sessions and token families; revokeAll ends both at once`, async () => {
      const r = await rig({
        session: { strategy, store: await createStore('memory:'), bus: new MemoryBus({ hub: {} }) },
      });
      try {
        const jar = new Jar();
        await request(r.sessions, jar, (s) => s.login('alice'));
        const a = await r.tokens.issue('alice', { userAgent: 'cli/1.0' });
        const b = await r.tokens.issue('alice');
        const bob = await r.tokens.issue('bob');
        await r.tokens.verify(a.accessToken);
        const kinds = (await r.sessions.list('alice')).map((s) => s.kind).sort();
        assert.deepEqual(kinds, ['cookie', 'token', 'token']);
        assert.equal(await r.sessions.revokeAll('alice'), 3);
        assert.equal((await request(r.sessions, jar, (s) => s.userId)).value, null);
        for (const p of [a, b]) {
          await assert.rejects(r.tokens.verify(p.accessToken), refused('SL_ERR_TOKEN_INVALID', /revoked/));
          await assert.rejects(r.tokens.refresh(p.refreshToken), refused('SL_ERR_REFRESH_INVALID'));
        }
        assert.deepEqual(await r.sessions.list('alice'), []);
        await r.tokens.verify(bob.accessToken);
        // Logging in again right after works: the revocation covers only what came before.
        await new Promise((res) => setTimeout(res, 2));
        const again = await r.tokens.issue('alice');
        await r.tokens.verify(again.accessToken);
      } finally {
        await r.close();
      }
    });
  }

  it('with a store (and bus) of their own, families still show in list and end with revokeAll', async () => {
    const own = await createStore('memory:');
    const r = await rig({ tokens: { store: own, bus: new MemoryBus({ hub: {} }) } });
    try {
      const a = await r.tokens.issue('alice');
      assert.ok(await own.get(`tfam:${a.handle}`));
      assert.equal(await r.sessions.store.get(`tfam:${a.handle}`), null);
      assert.deepEqual(
        (await r.sessions.list('alice')).map((s) => s.handle),
        [a.handle],
      );
      assert.equal(await r.sessions.revokeAll('alice'), 1);
      await assert.rejects(r.tokens.verify(a.accessToken), refused('SL_ERR_TOKEN_INVALID', /revoked/));
      // Closed tokens leave the manager's list.
      const b = await r.tokens.issue('bob');
      await r.tokens.close();
      assert.deepEqual(await r.sessions.list('bob'), []);
      await assert.rejects(r.tokens.verify(b.accessToken), { code: 'SL_ERR_CLOSED' });
    } finally {
      await r.close();
      await own.close();
    }
  });

  it('revoke(handle) ends one family (only for its user when userId is given); the rest live on', async () => {
    const r = await rig();
    try {
      const a = await r.tokens.issue('alice');
      const b = await r.tokens.issue('alice');
      assert.equal(await r.sessions.revoke(a.handle, { userId: 'bob' }), false);
      await r.tokens.verify(a.accessToken);
      assert.equal(await r.sessions.revoke(a.handle, { userId: 'alice' }), true);
      await assert.rejects(r.tokens.verify(a.accessToken), refused('SL_ERR_TOKEN_INVALID', /revoked/));
      await assert.rejects(r.tokens.refresh(a.refreshToken), refused('SL_ERR_REFRESH_INVALID'));
      await r.tokens.verify(b.accessToken);
      assert.deepEqual(
        (await r.sessions.list('alice')).map((s) => s.handle),
        [b.handle],
      );
    } finally {
      await r.close();
    }
  });
});

describe('key rotation', () => {
  it('a token signed by the previous key stays valid until it expires; new tokens use the new key; JWKS shows both', async () => {
    const clock = new Clock();
    const old = await generateTokenKey('EdDSA');
    const before = await rig({ clock, keys: [old] });
    const issued = await before.tokens.issue('alice');
    await before.close();

    const next = await generateTokenKey('ES256');
    const after = await rig({ clock, keys: [next, old] });
    try {
      await after.tokens.verify(issued.accessToken);
      const fresh = await after.tokens.issue('alice');
      assert.equal(decode(fresh.accessToken).header.kid, next.kid);
      assert.equal(decode(fresh.accessToken).header.alg, 'ES256');
      const jwks = after.tokens.jwks();
      assert.deepEqual(
        jwks.keys.map((k) => k.kid),
        [next.kid, old.kid],
      );
      assert.ok(jwks.keys.every((k) => k.d === undefined));
      clock.advance(10 * 60_000 + 5_000);
      await assert.rejects(
        after.tokens.verify(issued.accessToken),
        refused('SL_ERR_TOKEN_INVALID', /expired/),
      );
    } finally {
      await after.close();
    }
  });

  it('a retired key may stay as its public part only; dropping it refuses its tokens (unknown kid)', async () => {
    const old = await generateTokenKey('EdDSA');
    assert.ok('privateJwk' in old);
    const before = await rig({ keys: [old] });
    const issued = await before.tokens.issue('alice');
    await before.close();
    const next = await generateTokenKey('EdDSA');
    const { d: _d, ...publicJwk } = old.privateJwk;
    const retired: TokenKey = { kid: old.kid, alg: old.alg, publicJwk };
    const kept = await rig({ keys: [next, retired] });
    const dropped = await rig({ keys: [next] });
    try {
      await kept.tokens.verify(issued.accessToken);
      await assert.rejects(
        dropped.tokens.verify(issued.accessToken),
        refused('SL_ERR_TOKEN_INVALID', /no key/),
      );
    } finally {
      await kept.close();
      await dropped.close();
    }
  });

  it('refuses bad key rings at start-up', async () => {
    const sessions = (await rig()).sessions;
    const good = await generateTokenKey();
    const base = { sessions, issuer: ISSUER, audience: AUDIENCE };
    const cases: unknown[] = [
      [],
      [{ ...good, alg: 'HS256' }],
      [{ ...good, alg: 'ES256' }],
      [good, good],
      [{ kid: good.kid, alg: 'EdDSA', publicJwk: {} }],
    ];
    for (const keys of cases)
      await assert.rejects(createTokens({ ...base, keys: keys as TokenKey[] }), {
        code: 'SL_ERR_INVALID_OPTION',
      });
    await assert.rejects(createTokens({ ...base, keys: [good], accessTtl: '10m', refreshTtl: '5m' }), {
      code: 'SL_ERR_INVALID_OPTION',
    });
    await assert.rejects(createTokens({ ...base, keys: [good], algorithms: ['none'] } as never), {
      code: 'SL_ERR_INVALID_OPTION',
      message: /unknown option "algorithms"/,
    });
    await assert.rejects(createTokens({ ...base, keys: [good], sessions: {} as never }), {
      code: 'SL_ERR_INVALID_OPTION',
      message: /createSessions/,
    });
    await sessions.close();
  });
});
