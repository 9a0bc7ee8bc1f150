/**
 * The supervisor on its own (no gateway): a fake registry records what a gateway would be told.
 * Instances are real forked processes of fixtures/test-app.ts running runInstance.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, describe, it } from 'node:test';
import { isStatelineError } from 'stateline/errors';
import { Supervisor, type InstanceRegistry } from '../src/supervisor.js';
import { alive, eventually, getJson } from './support.js';

const APP = new URL('./fixtures/test-app.ts', import.meta.url);

class FakeRegistry implements InstanceRegistry {
  calls: string[] = [];
  urls = new Map<string, string>();
  drainWait = 0;
  add({ id, url }: { id: string; url: string }) {
    this.calls.push(`add ${id}`);
    this.urls.set(id, url);
  }
  async drain(id: string) {
    this.calls.push(`drain ${id}`);
    await new Promise((r) => setTimeout(r, this.drainWait));
  }
  remove(id: string) {
    this.calls.push(`remove ${id}`);
    this.urls.delete(id);
  }
  /** When set, markDown answers a promise that resolves when this one does (an external proxy told). */
  markDownDone: Promise<void> | undefined;
  markDown(id: string) {
    this.calls.push(`markDown ${id}`);
    return this.markDownDone;
  }
}

const supervisors: Supervisor[] = [];
after(async () => {
  for (const s of supervisors) await s.close();
});
function make(n: number, extra: Partial<ConstructorParameters<typeof Supervisor>[0]> = {}) {
  const registry = new FakeRegistry();
  const sup = new Supervisor({
    app: APP,
    instances: n,
    registry,
    handleSignals: false,
    env: { STATELINE_STORE: 'memory:', STATELINE_BUS: 'ipc:' },
    ...extra,
  });
  supervisors.push(sup);
  return { sup, registry };
}

describe('Supervisor', () => {
  it('starts i1…iN with their id and settings, registers each, and relays the ipc: bus', async () => {
    const { sup, registry } = make(3);
    await sup.start();
    const list = sup.instances();
    assert.deepEqual(
      list.map((i) => [i.id, i.state]),
      [
        ['i1', 'up'],
        ['i2', 'up'],
        ['i3', 'up'],
      ],
    );
    assert.deepEqual([...registry.urls.keys()].sort(), ['i1', 'i2', 'i3']);
    for (const i of list) {
      assert.equal(registry.urls.get(i.id), i.url);
      const { body, headers } = await getJson<{ id: string; pid: number; store: string; port: string }>(
        `${i.url}/info`,
      );
      assert.equal(body.id, i.id);
      assert.equal(body.pid, i.pid);
      assert.equal(body.store, 'memory:');
      assert.equal(body.port, '0', 'instances get PORT=0 and report the real port');
      assert.equal(headers.get('x-stateline-instance'), i.id);
      assert.equal((await fetch(`${i.url}/healthz`)).status, 200);
      assert.equal((await fetch(`${i.url}/readyz`)).status, 200);
    }
    // A message published by i1 reaches every instance through the relay.
    await getJson(`${list[0]!.url}/publish?m=hello`);
    for (const i of list) {
      await eventually(async () => (await getJson<string[]>(`${i.url}/got`)).body.includes('i1:hello'));
    }
  });

  it('kill(id) SIGKILLs one instance, marks it down, and start(id) brings it back on a new process', async () => {
    const { sup, registry } = make(2);
    await sup.start();
    const before = sup.instance('i1')!;
    registry.calls.length = 0;
    await sup.kill('i1');
    assert.equal(sup.instance('i1')!.state, 'down');
    assert.equal(sup.instance('i1')!.pid, null);
    assert.ok(!alive(before.pid!), 'the killed process is gone');
    assert.equal(registry.calls[0], 'markDown i1', 'the gateway is told before the process dies');
    assert.ok(registry.calls.includes('remove i1'));
    assert.equal(sup.instance('i2')!.state, 'up', 'the other instance is untouched');

    await sup.startInstance('i1');
    const again = sup.instance('i1')!;
    assert.equal(again.state, 'up');
    assert.notEqual(again.pid, before.pid);
    assert.equal(again.restarts, 1);
    assert.equal(registry.urls.get('i1'), again.url);
    assert.equal((await getJson<{ id: string }>(`${again.url}/info`)).body.id, 'i1');
    // Starting an instance that is up is a no-op.
    await sup.startInstance('i1');
    assert.equal(sup.instance('i1')!.pid, again.pid);
  });

  it('kill(id) waits until the registry says every balancer took the instance out, then SIGKILLs it', async () => {
    const { sup, registry } = make(1);
    await sup.start();
    const { pid } = sup.instance('i1')!;
    let told!: () => void;
    registry.markDownDone = new Promise<void>((r) => (told = r));
    const killing = sup.kill('i1');
    // HAProxy has not confirmed yet: the process still serves its in-flight requests.
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(alive(pid!), 'not killed before the balancers stopped sending it requests');
    assert.deepEqual(registry.calls.slice(-1), ['markDown i1']);
    told();
    await killing;
    assert.ok(!alive(pid!), 'killed once they did');
    assert.equal(sup.instance('i1')!.state, 'down');
  });

  it('stop(id) drains the gateway first, lets in-flight requests finish, and the process exits 0', async () => {
    const { sup, registry } = make(1);
    await sup.start();
    const i1 = sup.instance('i1')!;
    const exits: [string, number | null][] = [];
    sup.on('exit', (id, code) => exits.push([id, code]));
    const slow = getJson<{ slept: number }>(`${i1.url}/slow?ms=700`);
    await new Promise((r) => setTimeout(r, 100));
    registry.calls.length = 0;
    const stopping = sup.stop('i1');
    await eventually(() => sup.instance('i1')!.state === 'draining');
    const res = await slow;
    assert.equal(res.status, 200, 'the in-flight request finished');
    assert.equal(res.body.slept, 700);
    await stopping;
    assert.equal(registry.calls[0], 'drain i1');
    assert.deepEqual(exits, [['i1', 0]]);
    assert.equal(sup.instance('i1')!.state, 'down');
    assert.ok(!alive(i1.pid!));
    await assert.rejects(fetch(`${i1.url}/info`), 'nothing listens any more');
  });

  it('restart(id) stops and starts again; unknown ids are SL_ERR_NOT_FOUND', async () => {
    const { sup } = make(1);
    await sup.start();
    const pid = sup.instance('i1')!.pid;
    await sup.restart('i1');
    assert.notEqual(sup.instance('i1')!.pid, pid);
    assert.equal(sup.instance('i1')!.state, 'up');
    assert.throws(
      () => sup.kill('i9'),
      (e: unknown) => isStatelineError(e, 'SL_ERR_NOT_FOUND'),
    );
    assert.throws(
      () => new Supervisor({ app: APP, instances: 0 }),
      (e: unknown) => isStatelineError(e, 'SL_ERR_INVALID_OPTION'),
    );
  });

  it('start() fails with SL_ERR_INSTANCE_FAILED when an instance exits or never listens, and stops the others', async () => {
    const crash = make(2, { env: { TEST_CRASH: 'i2' } }).sup;
    await assert.rejects(
      crash.start(),
      (e: unknown) => isStatelineError(e, 'SL_ERR_INSTANCE_FAILED') && /i2.*exited/.test(e.message),
    );
    await eventually(() => crash.instances().every((i) => i.state === 'down'));

    const silent = make(1, { env: { TEST_SILENT: 'i1' }, startTimeout: 1500 }).sup;
    await assert.rejects(
      silent.start(),
      (e: unknown) => isStatelineError(e, 'SL_ERR_INSTANCE_FAILED') && /within 1500 ms/.test(e.message),
    );
    await eventually(() => silent.instance('i1')!.state === 'down');
  });
});

describe('no orphans', () => {
  const runSupervisor = async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', new URL('./fixtures/supervisor-main.ts', import.meta.url).pathname],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const [line] = (await once(child.stdout, 'data')) as [Buffer];
    const info = JSON.parse(line.toString()) as { pid: number; children: number[] };
    return { child, info, stderr: () => stderr };
  };

  it('when the supervisor is SIGKILLed, its instances exit within a few seconds', async () => {
    const { child, info } = await runSupervisor();
    assert.equal(info.children.length, 2);
    for (const pid of info.children) assert.ok(alive(pid));
    child.kill('SIGKILL');
    await once(child, 'exit');
    await eventually(() => info.children.every((pid) => !alive(pid)), 5000, 50);
  });

  it('SIGTERM to the supervisor drains every instance (exit 0) and exits 0', async () => {
    const { child, info, stderr } = await runSupervisor();
    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 0);
    assert.ok(info.children.every((pid) => !alive(pid)));
    assert.match(stderr(), /exit i1 0 null/);
    assert.match(stderr(), /exit i2 0 null/);
  });
});
