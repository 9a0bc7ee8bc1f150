import net from 'node:net';
import { freePort } from '../support/free-port.js';

/**
 * A TCP relay in front of the shared PostgreSQL, so a test can take "the server" away and bring
 * it back without touching the real one: `cut()` drops every connection and refuses new ones,
 * `blackhole()` accepts and swallows bytes (a server that never answers), `restore()` relays again.
 */
export class FlakyProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private mode: 'relay' | 'blackhole' = 'relay';

  private constructor(
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}

  static async start(targetUrl: string): Promise<FlakyProxy> {
    const u = new URL(targetUrl);
    const p = new FlakyProxy(await freePort(), { host: u.hostname, port: Number(u.port || 5432) });
    await p.listen();
    return p;
  }

  url(base: string): string {
    const u = new URL(base);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }

  private listen(): Promise<void> {
    const server = net.createServer((client) => {
      this.sockets.add(client);
      client.on('close', () => this.sockets.delete(client));
      client.on('error', () => {});
      if (this.mode === 'blackhole') {
        client.resume();
        return;
      }
      const upstream = net.connect(this.target);
      this.sockets.add(upstream);
      upstream.on('close', () => (this.sockets.delete(upstream), client.destroy()));
      upstream.on('error', () => client.destroy());
      client.on('close', () => upstream.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
  }

  private dropAll(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.dropAll();
    if (server) await new Promise((r) => server.close(r));
  }

  /** Existing connections go silent (bytes are swallowed) and new ones are accepted but never answered. */
  async blackhole(): Promise<void> {
    this.mode = 'blackhole';
    for (const s of this.sockets) {
      s.unpipe();
      s.removeAllListeners('data');
      s.resume();
    }
  }

  async restore(): Promise<void> {
    this.mode = 'relay';
    await this.cut();
    await this.listen();
  }

  async stop(): Promise<void> {
    await this.cut();
  }
}
