import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createSessions } from '../../src/session/index.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { Jar, KEY_A, request } from './client.js';

/** Flips one character of a base64url string (never to itself). */
const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);

describe('verified-cookie cache [server]', () => {
  it('[server] a cookie seen before is still checked: altered signature, secret or handle are refused', async () => {
    const m = await createSessions({ keys: [KEY_A], store: new MemoryStore() });
    const jar = new Jar();
    await request(m, jar, (s) => s.set('n', 1));
    const good = jar.get('sl.sid')!;
    // Twice, so the second read comes from the cache.
    for (let i = 0; i < 2; i++) assert.equal((await request(m, jar, (s) => s.get('n'))).value, 1);
    // Handle, secret, signature. Not the last character: its low bits are base64url padding, and a
    // change there can decode to the same MAC.
    for (const at of [0, 30, good.length - 2]) {
      const bad = new Jar();
      bad.set('sl.sid', flip(good, at));
      const r = await request(m, bad, (s) => s.get('n'));
      assert.equal(r.value, undefined, `altered at ${at}: a fresh session`);
      assert.equal(r.session.isNew, true);
    }
    await m.close();
  });

  it('[server] stays bounded and correct past its size: 5,000 clients, each still reads its own session', async () => {
    const m = await createSessions({ keys: [KEY_A], store: new MemoryStore() });
    const jars = Array.from({ length: 5000 }, () => new Jar());
    for (const [i, jar] of jars.entries()) await request(m, jar, (s) => s.set('i', i));
    for (const [i, jar] of jars.entries()) assert.equal((await request(m, jar, (s) => s.get('i'))).value, i);
    // The earliest clients fell out of the cache first: they verify again, and still match.
    for (const [i, jar] of jars.slice(0, 10).entries())
      assert.equal((await request(m, jar, (s) => s.get('i'))).value, i);
    await m.close();
  });
});
