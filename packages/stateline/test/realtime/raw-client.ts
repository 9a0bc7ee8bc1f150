/**
 * A WebSocket client on a bare TCP socket, for tests that need what real clients hide: stop
 * reading (a slow consumer), send binary or oversized frames, see every frame and the close code.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';

export interface RawFrame {
  opcode: number;
  payload: Buffer;
}

export class RawClient {
  /** Text frames received, parsed; the elements of a batch frame (a JSON array) one by one. */
  readonly messages: Array<Record<string, unknown>> = [];
  /** Batch frames received, each the messages it held. */
  readonly batches: Array<Array<Record<string, unknown>>> = [];
  /** Close code from the server's close frame, once seen. */
  closeCode: number | undefined;
  closeReason = '';
  ended = false;
  private buf: Buffer = Buffer.alloc(0);
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: net.Socket) {}

  static connect(
    port: number,
    options: { path?: string; headers?: Record<string, string> } = {},
  ): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host: '127.0.0.1' });
      socket.on('error', () => {});
      const key = randomBytes(16).toString('base64');
      const extra = Object.entries(options.headers ?? {})
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('');
      socket.once('connect', () =>
        socket.write(
          `GET ${options.path ?? '/realtime'} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`,
        ),
      );
      let head = Buffer.alloc(0);
      const onData = (d: Buffer) => {
        head = Buffer.concat([head, d]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        socket.off('data', onData);
        const status = head.subarray(0, end).toString('latin1').split('\r\n')[0]!;
        if (!status.includes(' 101 ')) {
          socket.destroy();
          return reject(new Error(`upgrade refused: ${status}`));
        }
        const c = new RawClient(socket);
        socket.on('data', (chunk: Buffer) => c.onData(chunk));
        socket.on('close', () => {
          c.ended = true;
          c.wake();
        });
        c.onData(head.subarray(end + 4));
        resolve(c);
      };
      socket.on('data', onData);
      socket.once('close', () => reject(new Error('closed during the handshake')));
    });
  }

  /** Sends a masked frame (clients must mask). */
  sendFrame(payload: Buffer, opcode = 1): void {
    const n = payload.length;
    const head = n < 126 ? 2 : n < 65_536 ? 4 : 10;
    const out = Buffer.alloc(head + 4 + n);
    out[0] = 0x80 | opcode;
    if (n < 126) out[1] = 0x80 | n;
    else if (n < 65_536) {
      out[1] = 0x80 | 126;
      out.writeUInt16BE(n, 2);
    } else {
      out[1] = 0x80 | 127;
      out.writeBigUInt64BE(BigInt(n), 2);
    }
    const mask = randomBytes(4);
    mask.copy(out, head);
    for (let i = 0; i < n; i++) out[head + 4 + i] = payload[i]! ^ mask[i & 3]!;
    this.socket.write(out);
  }

  send(frame: unknown): void {
    this.sendFrame(Buffer.from(typeof frame === 'string' ? frame : JSON.stringify(frame)));
  }

  /** Stops reading: the kernel buffers fill and the server sees a slow consumer. */
  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  close(): void {
    this.socket.destroy();
  }

  /** Waits until `check` holds (re-checked on every frame) or `ms` pass. */
  async until(check: () => boolean, ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`raw client: condition not met within ${ms} ms`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 50);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Frames of `type`. */
  of(type: string): Array<Record<string, unknown>> {
    return this.messages.filter((m) => m.type === type);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private onData(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    for (;;) {
      if (this.buf.length < 2) break;
      const opcode = this.buf[0]! & 0x0f;
      let len = this.buf[1]! & 0x7f;
      let off = 2;
      if (len === 126) {
        if (this.buf.length < 4) break;
        len = this.buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) break;
        len = Number(this.buf.readBigUInt64BE(2));
        off = 10;
      }
      if (this.buf.length < off + len) break;
      const payload = this.buf.subarray(off, off + len);
      this.buf = this.buf.subarray(off + len);
      if (opcode === 1) {
        const v = JSON.parse(payload.toString('utf8')) as
          Record<string, unknown> | Array<Record<string, unknown>>;
        if (Array.isArray(v)) {
          this.batches.push(v);
          this.messages.push(...v);
        } else this.messages.push(v);
      } else if (opcode === 8) {
        this.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
        this.closeReason = payload.subarray(2).toString('utf8');
      } else if (opcode === 9) this.sendFrame(payload, 10); // answer pings
    }
    this.wake();
  }
}
