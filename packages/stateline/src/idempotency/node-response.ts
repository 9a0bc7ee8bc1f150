import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { BodyCapture } from './body-capture.js';
import type { IdempotencyAnswer, IdempotencyTicket } from './types.js';

type WriteArgs = [chunk?: unknown, encoding?: unknown, callback?: unknown];
type HeaderArg = OutgoingHttpHeaders | readonly (string | number | readonly string[])[] | undefined;

/** Writes a ready answer (problem or replay) to a node:http response. */
export function sendNodeAnswer(res: ServerResponse, answer: IdempotencyAnswer): void {
  res.statusCode = answer.status;
  for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value);
  res.end(answer.body);
}

function toBytes(chunk: unknown, encoding: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  return Buffer.from(String(chunk), typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
}

/**
 * Captures what the handler writes to a node:http response (Express responses are ones too) and
 * saves it through the ticket. The final `end` is held back until the outcome is saved, so a
 * client that has the whole response knows a retry will be replayed.
 */
export function captureServerResponse(res: ServerResponse, ticket: IdempotencyTicket): void {
  const body = new BodyCapture(ticket.maxBodyBytes);
  const write = res.write;
  const end = res.end;
  const writeHead = res.writeHead;
  let ending = false;

  // Headers given to writeHead are not visible through getHeaders() unless set one by one.
  res.writeHead = function (
    this: ServerResponse,
    status: number,
    reason?: string | HeaderArg,
    headers?: HeaderArg,
  ) {
    const given = typeof reason === 'string' ? headers : reason;
    if (Array.isArray(given)) {
      const pairs =
        given.length > 0 && Array.isArray(given[0])
          ? (given as [string, string][])
          : pairsOf(given as string[]);
      for (const [name, value] of pairs) res.setHeader(name, value);
    } else if (given) {
      for (const [name, value] of Object.entries(given)) if (value !== undefined) res.setHeader(name, value);
    }
    const original = writeHead as (this: ServerResponse, ...a: unknown[]) => ServerResponse;
    return typeof reason === 'string' ? original.call(this, status, reason) : original.call(this, status);
  } as ServerResponse['writeHead'];

  res.write = function (this: ServerResponse, ...args: WriteArgs) {
    if (args[0] !== undefined && args[0] !== null) body.add(toBytes(args[0], args[1]));
    return (write as (...a: WriteArgs) => boolean).apply(this, args);
  } as ServerResponse['write'];

  res.end = function (this: ServerResponse, ...args: WriteArgs) {
    if (ending) return this;
    ending = true;
    if (typeof args[0] !== 'function' && args[0] !== undefined && args[0] !== null)
      body.add(toBytes(args[0], args[1]));
    void ticket
      .complete({ status: res.statusCode, headers: res.getHeaders(), body: body.bytes() })
      .then(() => (end as (...a: WriteArgs) => ServerResponse).apply(this, args));
    return this;
  } as ServerResponse['end'];
}

function pairsOf(flat: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
}

/** Reads a node:http request body into one Buffer. */
export function readRequestBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

/** A node:http request header as one string: repeated headers joined with ", ", as Node joins unknown ones. */
export function joinHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}
