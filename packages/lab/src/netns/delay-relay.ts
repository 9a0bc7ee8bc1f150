import net from 'node:net';

/** How long a {@link DelayRelay} holds each chunk: `delayMs` ± `jitterMs` (uniform), never below 0. */
export interface RelayDelay {
  delayMs: number;
  jitterMs: number;
}

/**
 * When a chunk that arrived at `arrival` (ms) may leave: `arrival + delay` with the delay drawn
 * from `delayMs ± jitterMs` by `random()` (0 ≤ r < 1), but never before the chunk ahead of it
 * (`previous`), so a byte stream keeps its order however the jitter falls.
 *
 * @example
 * ```ts
 * releaseAt(100, 0, { delayMs: 50, jitterMs: 10 }, () => 0.5); // 100: held behind the chunk before
 * releaseAt(10, 200, { delayMs: 50, jitterMs: 10 }, () => 0);  // 240
 * ```
 */
export function releaseAt(previous: number, arrival: number, d: RelayDelay, random: () => number): number {
  const held = Math.max(0, d.delayMs + (2 * random() - 1) * d.jitterMs);
  return Math.max(previous, arrival + held);
}

/** One direction of one connection: chunks waiting for their release time, in arrival order. */
class DelayedPipe {
  private readonly queue: { at: number; chunk: Buffer }[] = [];
  private last = 0;
  private timer: NodeJS.Timeout | null = null;
  private ended = false;

  constructor(
    private readonly to: net.Socket,
    private readonly delay: () => RelayDelay,
  ) {}

  push(chunk: Buffer): void {
    this.last = releaseAt(this.last, performance.now(), this.delay(), Math.random);
    this.queue.push({ at: this.last, chunk });
    this.schedule();
  }

  /** The source ended: end the destination once every held chunk has left. */
  end(): void {
    this.ended = true;
    this.schedule();
  }

  private schedule(): void {
    if (this.timer) return;
    const head = this.queue[0];
    if (!head) {
      if (this.ended) this.to.end();
      return;
    }
    this.timer = setTimeout(() => this.flush(), Math.max(0, head.at - performance.now()));
  }

  private flush(): void {
    this.timer = null;
    const now = performance.now();
    while (this.queue.length > 0 && this.queue[0]!.at <= now + 0.5) {
      if (!this.to.destroyed) this.to.write(this.queue.shift()!.chunk);
      else this.queue.shift();
    }
    this.schedule();
  }

  destroy(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.queue.length = 0;
  }
}

export interface DelayRelayOptions {
  /** The address to listen on and its port (0: any free one). */
  host: string;
  port?: number;
  /** Where each accepted connection is forwarded. */
  targetHost: string;
  targetPort: number;
}

/**
 * A TCP relay that holds the bytes going to the target for a delay with jitter (see
 * {@link releaseAt}); the answers come back at once, so a round trip through it grows by the
 * delay, as with `tc netem delay` on the sender's interface. The delay starts at 0 and is changed
 * with {@link DelayRelay.set} while connections are open: already open ones are delayed too. A
 * side that closes or fails closes the other.
 *
 * @example
 * ```ts
 * const relay = await DelayRelay.listen({ host: '10.213.0.6', targetHost: '10.213.0.6', targetPort: 6379 });
 * relay.set({ delayMs: 50, jitterMs: 10 });
 * relay.port; // e.g. 40213: connect here instead of 6379
 * await relay.close();
 * ```
 */
export class DelayRelay {
  private delay: RelayDelay = { delayMs: 0, jitterMs: 0 };
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    private readonly server: net.Server,
    /** The port it listens on. */
    readonly port: number,
  ) {}

  static async listen(o: DelayRelayOptions): Promise<DelayRelay> {
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.port ?? 0, o.host, () => resolve());
    });
    const relay = new DelayRelay(server, (server.address() as net.AddressInfo).port);
    server.on('connection', (client) => relay.accept(client, o));
    return relay;
  }

  /** The delay from now on, for every connection. */
  set(d: RelayDelay): void {
    this.delay = { delayMs: Math.max(0, d.delayMs), jitterMs: Math.max(0, d.jitterMs) };
  }

  private accept(client: net.Socket, o: DelayRelayOptions): void {
    const upstream = net.connect({ host: o.targetHost, port: o.targetPort });
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    this.sockets.add(client).add(upstream);
    const out = new DelayedPipe(upstream, () => this.delay);
    client.on('data', (c: Buffer) => out.push(c));
    client.on('end', () => out.end());
    upstream.on('data', (c: Buffer) => client.write(c));
    upstream.on('end', () => client.end());
    const close = () => {
      out.destroy();
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    // A client that ended cleanly still has its last bytes held: the pipe ends the upstream once
    // they have left. A failure on either side, or the upstream closing, ends both at once.
    client.on('error', close).on('close', (failed: boolean) => failed && close());
    upstream.on('error', close).on('close', close);
  }

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
