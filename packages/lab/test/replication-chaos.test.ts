/**
 * Chaos for stateful mode: `memory` sessions, `sticky` balancing, 3 instances on the ipc bus.
 * Clients build up a session counter on their sticky instance; the instance holding the most
 * sessions is SIGKILLed; the gateway redispatches its clients. Without replication their sessions
 * are gone; with `backup` every one survives (the new instance fetches the copy from the backup).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startCluster } from '../src/cluster.js';
import { CLUSTER_APP, sleep } from './support.js';

const CLIENTS = 30;
const WRITES = 3;

class Client {
  private cookies = new Map<string, string>();
  instance = '';
  constructor(private readonly url: string) {}

  async call(method: string, path: string): Promise<{ counter: number; instance: string }> {
    const res = await fetch(this.url + path, {
      method,
      headers: { cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ') },
      signal: AbortSignal.timeout(10_000),
    });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';', 1);
      const eq = pair!.indexOf('=');
      this.cookies.set(pair!.slice(0, eq), pair!.slice(eq + 1));
    }
    assert.equal(res.status, 200, `${method} ${path} → ${res.status}`);
    const body = (await res.json()) as { counter: number; instance: string };
    this.instance = body.instance;
    return body;
  }
}

async function run(
  replication: 'off' | 'backup',
): Promise<{ lost: number; onVictim: number; victim: string }> {
  const cluster = await startCluster({
    app: CLUSTER_APP,
    port: 0,
    instances: 3,
    strategy: 'memory',
    balance: 'sticky',
    replication,
    bus: 'ipc:',
  });
  try {
    const clients = Array.from({ length: CLIENTS }, () => new Client(cluster.url));
    for (const c of clients) for (let i = 0; i < WRITES; i++) await c.call('POST', '/api/counter');
    // Sticky: every client stayed on one instance.
    for (const c of clients) assert.equal((await c.call('GET', '/api/counter')).counter, WRITES);
    const perInstance = new Map<string, number>();
    for (const c of clients) perInstance.set(c.instance, (perInstance.get(c.instance) ?? 0) + 1);
    const [victim, onVictim] = [...perInstance].sort((a, b) => b[1] - a[1])[0]!;
    const kill = await fetch(`${cluster.url}/_stateline/instances/${victim}/kill`, { method: 'POST' });
    assert.equal(kill.status < 300, true, `kill answered ${kill.status}`);
    await sleep(200);
    let lost = 0;
    for (const c of clients) {
      const { counter, instance } = await c.call('GET', '/api/counter');
      assert.notEqual(instance, victim, 'redispatched away from the dead instance');
      if (counter !== WRITES) lost++;
    }
    return { lost, onVictim, victim };
  } finally {
    await cluster.close();
  }
}

describe('memory + sticky: an instance dies', () => {
  it('[memory/sticky] without replication, the dead instance’s sessions are lost', async () => {
    const { lost, onVictim } = await run('off');
    process.stdout.write(
      `# replication off: ${lost} of ${CLIENTS} sessions lost (${onVictim} were on the killed instance)\n`,
    );
    assert.ok(onVictim > 0);
    assert.equal(lost, onVictim, 'exactly the sessions of the killed instance are lost');
  });

  it('[memory/sticky/backup] with backup replication, no session is lost', async () => {
    const { lost, onVictim } = await run('backup');
    process.stdout.write(
      `# replication backup: ${lost} of ${CLIENTS} sessions lost (${onVictim} were on the killed instance)\n`,
    );
    assert.ok(onVictim > 0);
    assert.equal(lost, 0);
  });
});
