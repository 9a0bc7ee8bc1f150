import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { RequestTrace, cookieHeads, setCookieHeads } from '../src/run/request-trace.js';

describe('request trace (STATELINE_LAB_TRACE)', () => {
  it('is off without the variable', () => {
    assert.equal(RequestTrace.fromEnv(1, {}), null);
  });

  it('keeps the last 40 requests of a user and appends them as one line per lost session', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sl-trace-'));
    try {
      const file = join(dir, 'trace.jsonl');
      const trace = RequestTrace.fromEnv(7, { STATELINE_LAB_TRACE: file })!;
      for (let t = 0; t < 45; t++)
        trace.add({ t, ms: 1, method: 'GET', path: '/api/whoami', status: 200, code: '', sent: [], set: [] });
      trace.dump('unauthenticated', 45.4);
      trace.dump('logged-out', 50);
      const lines = readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.equal(lines.length, 2);
      assert.equal(lines[0]!.user, 7);
      assert.equal(lines[0]!.reason, 'unauthenticated');
      assert.equal(lines[0]!.at, 45);
      const requests = lines[0]!.requests as { t: number }[];
      assert.equal(requests.length, 40);
      assert.equal(requests[0]!.t, 5);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('shows the first 8 characters of each cookie, and a cleared one as empty', () => {
    assert.deepEqual(cookieHeads('sl.sid=abcdefghijklmnop; sl.sid.v=12'), ['sl.sid=abcdefgh', 'sl.sid.v=12']);
    assert.deepEqual(cookieHeads(undefined), []);
    assert.deepEqual(
      setCookieHeads(['sl.sid=qrstuvwxyz0123; Path=/; HttpOnly', 'sl.sid=; Path=/; Max-Age=0']),
      ['sl.sid=qrstuvwx', 'sl.sid='],
    );
  });
});
