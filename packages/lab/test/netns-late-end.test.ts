/**
 * A logout sent while its instance is cut from Redis, on real namespaces (root needed): the
 * instance's connection stays open through the partition, so its write reaches Redis after the
 * heal — here after the instance was killed too, as in the lab run of #17 that lost a session —
 * and must not end the login the client was answered meanwhile on another instance.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { NetFaults, NetTopology } from '../src/netns/index.js';
import { needNetns } from './netns-support.js';

const skip = await needNetns();
const PEER = new URL('./fixtures/session-peer.ts', import.meta.url).pathname;
const PORT = '6379';
const run = promisify(execFile);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A session-peer process in host `name`, asked one JSON command at a time. */
class Peer {
  private readonly lines: AsyncIterator<string>;
  constructor(readonly child: ChildProcess) {
    this.lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  }
  static async start(net: NetTopology, name: string, redis: string): Promise<Peer> {
    const [cmd, args] = net.command(name, process.execPath, ['--import', 'tsx', PEER, redis]);
    const peer = new Peer(spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] }));
    assert.deepEqual(await peer.next(), { ready: true });
    return peer;
  }
  private async next(): Promise<Record<string, unknown>> {
    const { value, done } = await this.lines.next();
    if (done) throw new Error('the peer ended');
    return JSON.parse(value) as Record<string, unknown>;
  }
  ask(cmd: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.child.stdin!.write(JSON.stringify(cmd) + '\n');
    return this.next();
  }
}

describe('a session ended late on a real network [server/redis]', { skip }, () => {
  let net: NetTopology | undefined;
  const children: ChildProcess[] = [];
  after(async () => {
    for (const c of children) c.kill('SIGKILL');
    await net?.close();
  });

  it('a logout sent while cut from Redis lands after the heal and leaves the login answered since signed in', async () => {
    net = await NetTopology.create({ hosts: ['a', 'b', 'store'] });
    const address = net.host('store').address;
    const cli = (...args: string[]) => {
      const [cmd, argv] = net!.command('store', 'redis-cli', ['-h', address, '-p', PORT, ...args]);
      return run(cmd, argv).then((r) => r.stdout.trim());
    };
    const [rcmd, rargs] = net.command('store', 'redis-server', [
      '--bind',
      address,
      '--port',
      PORT,
      '--save',
      '',
      '--appendonly',
      'no',
      '--protected-mode',
      'no',
    ]);
    children.push(spawn(rcmd, rargs, { stdio: 'ignore' }));
    while ((await cli('ping').catch(() => '')) !== 'PONG') await sleep(50);
    const url = `redis://${address}:${PORT}?prefix=late:`;
    const a = await Peer.start(net, 'a', url);
    const b = await Peer.start(net, 'b', url);
    children.push(a.child, b.child);

    const first = await b.ask({ op: 'login', user: 'alice' });
    const held = await a.ask({ op: 'hold', cookie: first.cookie });
    assert.equal(held.userId, 'alice');
    // `a` is cut from Redis; its logout's write waits in its connection, the caller gets 503.
    const faults = new NetFaults(net);
    await faults.partition('a', ['store']);
    assert.deepEqual(await a.ask({ op: 'destroy' }), { error: 'SL_ERR_STORE_UNAVAILABLE' });
    // Unsure, the client logs in again with the same cookie, on `b`: the same record, re-issued.
    const again = await b.ask({ op: 'login', user: 'alice', cookie: first.cookie });
    assert.equal(again.handle, first.handle);
    assert.notEqual(again.cookie, first.cookie);
    // `a` dies before the link is back; what it sent still goes out once it is.
    a.child.kill('SIGKILL');
    await faults.heal('a');
    // Redis drops a's connection after reading everything sent on it (its FIN follows the write).
    while ((await cli('client', 'list')).includes(`addr=${net.host('a').address}:`)) await sleep(100);
    assert.deepEqual(await b.ask({ op: 'whoami', cookie: again.cookie }), { userId: 'alice' });
  });
});
