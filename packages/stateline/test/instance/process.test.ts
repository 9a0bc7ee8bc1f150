/** The runtime in its own process: SIGTERM drains, a supervisor's channel, failStartup, isMainModule. */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { describe, it } from 'node:test';
import { isSupervisorMessage, type SupervisorMessage } from '../../src/instance/index.js';
import { startNode } from './child.js';

const APP = new URL('./fixtures/app.ts', import.meta.url).pathname;
const TSX = ['--import', 'tsx', APP];

/** The next supervisor message the child sends. */
function nextMessage(child: ChildProcess): Promise<SupervisorMessage> {
  return new Promise((resolve) => {
    const on = (m: unknown) => {
      if (!isSupervisorMessage(m)) return;
      child.off('message', on);
      resolve(m);
    };
    child.on('message', on);
  });
}

describe('an instance process', () => {
  it('on its own: prints its URL, is the main module, and on SIGTERM finishes in-flight work, closes in order, exits 0', async () => {
    const p = startNode(TSX, { env: { STATELINE_INSTANCE_ID: 'p1' } });
    const url = await p.listening();
    assert.match(p.stdout(), /^stateline instance p1 listening on http:\/\/127\.0\.0\.1:\d+\n/);
    assert.equal(await (await fetch(`${url}/main`)).text(), 'true');
    const slow = fetch(`${url}/slow`).then((r) => r.text());
    await new Promise((r) => setTimeout(r, 50));
    p.child.kill('SIGTERM');
    assert.equal(await slow, 'done', 'the request in flight was answered');
    assert.equal(await p.exited, 0);
    assert.match(p.stdout(), /closed sessions\nclosed store\n$/);
  });

  it('on its own: a failed startup prints one line to stderr and exits 1', async () => {
    const p = startNode(TSX, { env: { STATELINE_INSTANCE_ID: 'p2', FIXTURE_FAIL: '1' } });
    assert.equal(await p.exited, 1);
    assert.equal(
      p.stderr(),
      'stateline instance p2: cannot start: the store is down at connect (redis.js:1:1)\n',
    );
  });

  it('under a supervisor: reports its port, drains on the drain message, exits 0', async () => {
    const p = startNode(TSX, { env: { STATELINE_INSTANCE_ID: 'p3' }, ipc: true });
    const listening = await nextMessage(p.child);
    if (listening.type !== 'listening') assert.fail(`expected listening, got ${listening.type}`);
    const res = await fetch(`http://127.0.0.1:${listening.port}/healthz`);
    assert.deepEqual(await res.json(), { status: 'ok', instance: 'p3' });
    assert.equal(p.stdout(), '', 'nothing printed: the supervisor reports it');
    p.child.send({ $sl: 'supervisor', type: 'drain' } satisfies SupervisorMessage);
    assert.equal(await p.exited, 0);
    assert.match(p.stdout(), /closed sessions\nclosed store\n$/);
  });

  it('under a supervisor: a failed startup is one `failed` message, then exit 1', async () => {
    const p = startNode(TSX, { env: { FIXTURE_FAIL: '1' }, ipc: true });
    assert.deepEqual(await nextMessage(p.child), {
      $sl: 'supervisor',
      type: 'failed',
      reason: 'the store is down at connect (redis.js:1:1)',
    });
    assert.equal(await p.exited, 1);
    assert.equal(p.stderr(), '');
  });

  it('isSupervisorMessage accepts only well-formed messages of its protocol', () => {
    assert.ok(isSupervisorMessage({ $sl: 'supervisor', type: 'listening', port: 3001 }));
    assert.ok(isSupervisorMessage({ $sl: 'supervisor', type: 'drain' }));
    for (const m of [
      null,
      'drain',
      { $sl: 'bus', type: 'drain' },
      { $sl: 'supervisor', type: 'listening', port: 0 },
      { $sl: 'supervisor', type: 'listening', port: 1.5 },
      { $sl: 'supervisor', type: 'failed' },
      { $sl: 'supervisor', type: 'other' },
    ])
      assert.equal(isSupervisorMessage(m), false, JSON.stringify(m));
  });
});
