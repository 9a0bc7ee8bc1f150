/**
 * Peers of a `ReplicatedStore` fleet in one process, each on its own {@link Link} to a shared
 * in-memory Bus, so a test can kill, slow or deafen one process's link. Stores opened here are
 * closed after the file's tests.
 */
import { after } from 'node:test';
import { MemoryBus } from '../../src/bus/memory-bus.js';
import type { Bus, BusBackend, BusHandler } from '../../src/bus/types.js';
import { ReplicatedStore } from '../../src/store/decorators/replicated-store.js';
import { MemoryStore } from '../../src/store/memory-store.js';

/**
 * A process's link to the Bus: `kill()` cuts it (SIGKILL: no goodbye, silence), `slow(ms)` holds
 * what it receives (an overloaded process), `drop` loses the incoming messages that contain it
 * (a busy process whose queue overflowed).
 */
export class Link implements Bus {
  readonly backend: BusBackend = 'memory';
  drop: string | undefined;
  private delay = 0;
  private dead = false;
  constructor(private readonly inner: Bus) {}
  kill(): void {
    this.dead = true;
  }
  slow(ms: number): void {
    this.delay = ms;
  }
  publish(channel: string, message: string): Promise<void> {
    return this.dead ? Promise.resolve() : this.inner.publish(channel, message);
  }
  subscribe(channel: string, handler: BusHandler): Promise<() => Promise<void>> {
    return this.inner.subscribe(channel, (msg, ch) => {
      if (this.dead || (this.drop !== undefined && msg.includes(this.drop))) return;
      if (this.delay === 0) return handler(msg, ch);
      setTimeout(() => {
        if (!this.dead) handler(msg, ch);
      }, this.delay).unref();
    });
  }
  onConnectionChange(listener: (connected: boolean) => void): () => void {
    return this.inner.onConnectionChange(listener);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

export interface Peer {
  store: ReplicatedStore;
  local: MemoryStore;
  link: Link;
}

export const settle = (ms = 40) => new Promise((r) => setTimeout(r, ms));

/**
 * A fleet with these timings (the store's default heartbeat when none is given): `peer(hub, id)`
 * opens one (`backup` mode), `closed(p)` stops it gracefully.
 */
export function replicatedFleet(timing: { heartbeat?: number; timeout: number }) {
  const open: ReplicatedStore[] = [];
  after(async () => {
    for (const s of open.splice(0)) await s.close();
  });
  return {
    async peer(hub: object, id: string): Promise<Peer> {
      const local = new MemoryStore();
      const link = new Link(new MemoryBus({ hub }));
      const store = await ReplicatedStore.open(local, link, { mode: 'backup', instanceId: id, ...timing });
      open.push(store);
      return { store, local, link };
    },
    async closed(p: Peer): Promise<void> {
      open.splice(open.indexOf(p.store), 1);
      await p.store.close();
    },
  };
}
