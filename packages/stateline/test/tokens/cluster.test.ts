/**
 * Must show 2 (three instances): three managers with their tokens on one Redis Store and Bus stand
 * for three instances. Reuse of a rotated refresh token on one instance, `revoke` and `revokeAll`
 * on another: the family's fresh access token, which every instance had verified (and cached), is
 * refused by every instance within one second.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createSessions } from '../../src/session/index.js';
import { createTokens, generateTokenKey } from '../../src/tokens/index.js';
import type { Tokens, TokenKey } from '../../src/tokens/types.js';
import type { SessionManager } from '../../src/session/types.js';
import { cleanUpAfter } from '../support/cleanup.js';
import { needService, REDIS_URL, uniquePrefix } from '../support/services.js';
import { AUDIENCE, ISSUER, SESSION_KEY } from './fixture.js';

const redis = await needService('redis');
cleanUpAfter('redis', redis);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Instance {
  sessions: SessionManager;
  tokens: Tokens;
}

/** Polls every instance until none accepts `token`; the time that took (fails past `within`). */
async function refusedEverywhere(instances: Instance[], token: string, within = 1000): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const accepted: number[] = [];
    for (const [i, x] of instances.entries()) {
      const ok = await x.tokens.verify(token).then(
        () => true,
        (err: { code?: string }) => {
          assert.equal(err.code, 'SL_ERR_TOKEN_INVALID');
          return false;
        },
      );
      if (ok) accepted.push(i + 1);
    }
    const took = performance.now() - t0;
    if (accepted.length === 0) return took;
    if (took > within) assert.fail(`still accepted by i${accepted.join(', i')} after ${within} ms`);
    await sleep(5);
  }
}

describe('token revocation across 3 instances (Redis Store + Bus)', { skip: redis }, () => {
  const instances: Instance[] = [];
  let key: TokenKey;

  before(async () => {
    const prefix = uniquePrefix('tokens');
    const spec = `${REDIS_URL}?prefix=${encodeURIComponent(prefix)}`;
    key = await generateTokenKey('EdDSA');
    for (let i = 0; i < 3; i++) {
      const sessions = await createSessions({
        strategy: 'server',
        store: spec,
        bus: spec,
        keys: [SESSION_KEY],
      });
      const tokens = await createTokens({ keys: [key], sessions, issuer: ISSUER, audience: AUDIENCE });
      instances.push({ sessions, tokens });
    }
  });

  after(async () => {
    for (const x of instances) {
      await x.tokens.close();
      await x.sessions.close();
    }
  });

  it('reuse detected on i3 kills the fresh access token on i1, i2 and i3 within 1 s', async () => {
    const [i1, i2, i3] = instances as [Instance, Instance, Instance];
    const pair = await i1.tokens.issue('alice');
    const fresh = await i2.tokens.refresh(pair.refreshToken);
    for (const x of instances) await x.tokens.verify(fresh.accessToken);
    await assert.rejects(i3.tokens.refresh(pair.refreshToken), { code: 'SL_ERR_REFRESH_INVALID' });
    const took = await refusedEverywhere(instances, fresh.accessToken);
    assert.ok(took < 1000);
    await assert.rejects(i1.tokens.refresh(fresh.refreshToken), { code: 'SL_ERR_REFRESH_INVALID' });
    assert.equal(i3.tokens.metrics.reuseDetected, 1);
  });

  it('revoke(handle) on i2 and revokeAll on i3 reach every instance within 1 s', async () => {
    const [i1, i2, i3] = instances as [Instance, Instance, Instance];
    const a = await i1.tokens.issue('bob');
    const b = await i1.tokens.issue('bob');
    for (const x of instances) {
      await x.tokens.verify(a.accessToken);
      await x.tokens.verify(b.accessToken);
    }
    assert.deepEqual(
      (await i3.sessions.list('bob')).map((s) => s.kind),
      ['token', 'token'],
    );
    assert.equal(await i2.sessions.revoke(a.handle), true);
    await refusedEverywhere(instances, a.accessToken);
    for (const x of instances) await x.tokens.verify(b.accessToken);
    assert.equal(await i3.sessions.revokeAll('bob'), 1);
    await refusedEverywhere(instances, b.accessToken);
    await assert.rejects(i2.tokens.refresh(b.refreshToken), { code: 'SL_ERR_REFRESH_INVALID' });
    assert.deepEqual(await i1.sessions.list('bob'), []);
  });

  it('a refresh token rotates on whichever instance gets it', async () => {
    let pair = await instances[0]!.tokens.issue('carol');
    for (let n = 0; n < 9; n++) pair = await instances[n % 3]!.tokens.refresh(pair.refreshToken);
    for (const x of instances) await x.tokens.verify(pair.accessToken);
    assert.equal(
      instances.reduce((s, x) => s + x.tokens.metrics.refreshed, 0),
      10,
    );
  });
});
