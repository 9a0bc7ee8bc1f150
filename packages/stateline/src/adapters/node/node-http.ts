/** node:http helpers the adapters share: read a request's body and headers, send a ready answer. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { IdempotencyAnswer } from '../../idempotency/types.js';

/** Writes a ready answer (problem or replay) to a node:http response. */
export function sendNodeAnswer(res: ServerResponse, answer: IdempotencyAnswer): void {
  res.statusCode = answer.status;
  for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value);
  res.end(answer.body);
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
