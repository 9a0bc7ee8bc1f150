/**
 * `refresh(token, { retryKey })`: a client's retry of a refresh whose answer it lost (same token,
 * same key) gets the same refresh token instead of being taken for theft, within a minute of the
 * rotation; another key, a later retry or a retry after the family moved on are reuse as before.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Clock, rig } from './fixture.js';

const refused = (err: unknown) => (err as { code?: string }).code === 'SL_ERR_REFRESH_INVALID';

describe('refresh with a retry key', () => {
  it('the same token and key again: the same refresh token, a working access token, the family lives', async () => {
    const r = await rig();
    try {
      const first = await r.tokens.issue('alice');
      const a = await r.tokens.refresh(first.refreshToken, { retryKey: 'k1' });
      const b = await r.tokens.refresh(first.refreshToken, { retryKey: 'k1' });
      assert.equal(b.refreshToken, a.refreshToken);
      assert.equal(b.handle, first.handle);
      await r.tokens.verify(a.accessToken);
      await r.tokens.verify(b.accessToken);
      assert.equal(r.tokens.metrics.reuseDetected, 0);
      const c = await r.tokens.refresh(b.refreshToken);
      await r.tokens.verify(c.accessToken);
    } finally {
      await r.close();
    }
  });

  it('another key, or the same one after the family moved on, is reuse: the family is revoked', async () => {
    const r = await rig();
    try {
      const first = await r.tokens.issue('alice');
      const a = await r.tokens.refresh(first.refreshToken, { retryKey: 'k1' });
      await assert.rejects(r.tokens.refresh(first.refreshToken, { retryKey: 'k2' }), refused);
      await assert.rejects(r.tokens.verify(a.accessToken));
      const second = await r.tokens.issue('bob');
      const b1 = await r.tokens.refresh(second.refreshToken, { retryKey: 'k1' });
      await r.tokens.refresh(b1.refreshToken, { retryKey: 'k2' });
      await assert.rejects(r.tokens.refresh(second.refreshToken, { retryKey: 'k1' }), refused);
      assert.equal(r.tokens.metrics.reuseDetected, 2);
    } finally {
      await r.close();
    }
  });

  it('a retry later than a minute after the rotation is reuse', async () => {
    const clock = new Clock();
    const r = await rig({ clock });
    try {
      const first = await r.tokens.issue('alice');
      await r.tokens.refresh(first.refreshToken, { retryKey: 'k1' });
      clock.advance(61_000);
      await assert.rejects(r.tokens.refresh(first.refreshToken, { retryKey: 'k1' }), refused);
      assert.equal(r.tokens.metrics.reuseDetected, 1);
    } finally {
      await r.close();
    }
  });

  it('refuses a retry key that is empty or too long', async () => {
    const r = await rig();
    try {
      const first = await r.tokens.issue('alice');
      for (const retryKey of ['', 'x'.repeat(256)])
        await assert.rejects(r.tokens.refresh(first.refreshToken, { retryKey }), /retryKey/);
    } finally {
      await r.close();
    }
  });
});
