/**
 * The shop and the lab on NATS: `hybrid/sqlite/nats` runs the real shop with its Bus (near-cache
 * invalidations, revocations) on core NATS and its chat history on JetStream. The machine's NATS
 * at 127.0.0.1:4222 must be up (`.ci/run` starts it); outside CI its absence skips with one line.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connect } from '@nats-io/transport-node';
import { parseConfigs, runLab } from '@stateline/lab';
import { chatLogSpec } from '../src/chat.js';
import { SHOP_APP } from './support.js';
import net from 'node:net';

const IN_CI = process.env.CI === 'true' || process.env.CI === '1';
const up = await new Promise<boolean>((resolve) => {
  const s = net.connect({ host: '127.0.0.1', port: 4222 });
  s.setTimeout(1000, () => (s.destroy(), resolve(false)));
  s.once('connect', () => (s.destroy(), resolve(true)));
  s.once('error', () => resolve(false));
});
if (!up && IN_CI) throw new Error('CI=true but NATS is not reachable at 127.0.0.1:4222');
const skip = up ? false : 'NATS is not reachable at 127.0.0.1:4222: skipping the shop-on-NATS test';
if (skip) console.log(`# SKIP ${skip}`);

describe('the shop on NATS', () => {
  it('a nats:// Bus also carries the chat history; other Buses leave it with the Store', () => {
    assert.equal(
      chatLogSpec('sqlite:s.db', 'nats://127.0.0.1:4222?prefix=lab:'),
      'nats://127.0.0.1:4222?prefix=lab:',
    );
    assert.equal(chatLogSpec('sqlite:s.db', 'ipc:'), 'sqlite:s.db');
    assert.equal(chatLogSpec('redis-cluster://h:7000', 'redis://h:6379'), 'memory:');
  });

  it('hybrid/sqlite/nats: the lab runs the shop with its Bus on NATS, nothing lost', { skip }, async () => {
    const nc = await connect({ servers: '127.0.0.1:4222' });
    let seen = 0;
    nc.subscribe('lab:bus.>', { callback: () => void seen++ });
    await nc.flush();
    try {
      const report = await runLab({
        configs: parseConfigs('hybrid/sqlite/nats'),
        durationMs: 5000,
        users: 4,
        instances: 2,
        faults: [],
        seed: 18,
        app: SHOP_APP,
        write: false,
      });
      const run = report.runs[0]!;
      assert.equal(run.skipped, null, `ran: ${run.skipped}`);
      const found = JSON.stringify({ lost: run.sessionsLostBy, errors: run.errorsByType });
      assert.ok(run.requests! > 20, found);
      assert.equal(run.sessionsLost, 0, found);
      assert.equal(run.lostUpdates, 0, found);
      assert.ok(seen > 0, 'the instances published on NATS subjects under lab:bus.');
    } finally {
      await nc.close();
    }
  });
});
