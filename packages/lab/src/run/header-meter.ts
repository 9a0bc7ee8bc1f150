import diagnostics from 'node:diagnostics_channel';

/** What undici publishes on `undici:client:sendHeaders` (the parts read here). */
interface SendHeadersMessage {
  request: { origin?: unknown; method?: unknown; contentLength?: unknown };
  /** The request line and header lines exactly as written, without the final CRLF and content-length. */
  headers: string;
}

/** What undici publishes on `undici:request:headers`. */
interface ResponseHeadersMessage {
  request: object & { origin?: unknown };
  response: { statusCode: number; statusText?: string; headers: (Buffer | string)[] };
}

/** Totals of one {@link HeaderMeter}. */
export interface HeaderTotals {
  /** Exchanges that got a response head. */
  exchanges: number;
  /** Request line + request headers of those exchanges, bytes on the wire. */
  requestBytes: number;
  /** Status line + response headers of those exchanges, bytes on the wire. */
  responseBytes: number;
}

const PAYLOAD_METHODS = new Set(['POST', 'PUT', 'PATCH']);
const CRLF = 2;

/**
 * Counts the header bytes undici sends to and receives from one origin, from undici's diagnostics
 * channels: the request line and headers as written (plus the `content-length` line and the blank
 * line undici adds after publishing), and the status line and raw response headers as received.
 * Bodies are not counted. Requests to other origins (the gateway's own upstream traffic in the same
 * process) are ignored.
 *
 * @example
 * ```ts
 * const meter = new HeaderMeter('http://127.0.0.1:8080');
 * meter.start();
 * await fetch('http://127.0.0.1:8080/api/whoami', { dispatcher });
 * meter.stop();
 * meter.totals(); // { exchanges: 1, requestBytes: 203, responseBytes: 251 }
 * ```
 */
export class HeaderMeter {
  private readonly sent = new WeakMap<object, number>();
  private t: HeaderTotals = { exchanges: 0, requestBytes: 0, responseBytes: 0 };
  private on = false;

  constructor(private readonly origin: string) {}

  private readonly onSend = (message: unknown) => {
    const m = message as SendHeadersMessage;
    if (!this.on || m.request.origin !== this.origin) return;
    let bytes = Buffer.byteLength(m.headers, 'latin1') + CRLF;
    const length = typeof m.request.contentLength === 'number' ? m.request.contentLength : null;
    if (length !== null && (length > 0 || PAYLOAD_METHODS.has(String(m.request.method))))
      bytes += `content-length: ${length}\r\n`.length;
    this.sent.set(m.request, bytes);
  };

  private readonly onHeaders = (message: unknown) => {
    const m = message as ResponseHeadersMessage;
    const sent = this.sent.get(m.request);
    if (!this.on || sent === undefined || m.request.origin !== this.origin) return;
    this.sent.delete(m.request);
    const { statusCode, statusText, headers } = m.response;
    let bytes = `HTTP/1.1 ${statusCode} ${statusText ?? ''}`.length + CRLF + CRLF;
    for (let i = 0; i + 1 < headers.length; i += 2)
      bytes += byteLength(headers[i]!) + 2 + byteLength(headers[i + 1]!) + CRLF;
    this.t.exchanges++;
    this.t.requestBytes += sent;
    this.t.responseBytes += bytes;
  };

  start(): void {
    if (this.on) return;
    this.on = true;
    diagnostics.subscribe('undici:client:sendHeaders', this.onSend);
    diagnostics.subscribe('undici:request:headers', this.onHeaders);
  }

  stop(): void {
    if (!this.on) return;
    this.on = false;
    diagnostics.unsubscribe('undici:client:sendHeaders', this.onSend);
    diagnostics.unsubscribe('undici:request:headers', this.onHeaders);
  }

  totals(): HeaderTotals {
    return { ...this.t };
  }
}

function byteLength(v: Buffer | string): number {
  return typeof v === 'string' ? Buffer.byteLength(v, 'latin1') : v.length;
}
