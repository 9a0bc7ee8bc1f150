import type { IncomingMessage, ServerResponse } from 'node:http';
import { fail, sendError, ShopError } from './http-error.js';
import { SL_ERR_BAD_REQUEST, SL_ERR_PAYLOAD_TOO_LARGE } from 'stateline/http';

/** Largest request body any shop route accepts. */
export const MAX_BODY_BYTES = 16 * 1024;

const tooLarge = () =>
  new ShopError(SL_ERR_PAYLOAD_TOO_LARGE, `the body may be at most ${MAX_BODY_BYTES} bytes`, {
    connection: 'close',
  });

/**
 * Refuses a request whose declared length is over {@link MAX_BODY_BYTES} before anything reads it.
 *
 * @example
 * ```ts
 * checkDeclaredLength(req); // throws SL_ERR_PAYLOAD_TOO_LARGE for Content-Length: 20000
 * ```
 */
export function checkDeclaredLength(req: IncomingMessage): void {
  const raw = req.headers['content-length'];
  if (raw !== undefined && Number(raw) > MAX_BODY_BYTES) throw tooLarge();
}

/**
 * For a body someone else reads (the idempotency middleware): past {@link MAX_BODY_BYTES} the
 * request gets the 413 problem at once and its connection is closed once that is sent.
 *
 * @example
 * ```ts
 * idempotent(req, res); // starts reading the body
 * limitBody(req, res);
 * ```
 */
export function limitBody(req: IncomingMessage, res: ServerResponse): void {
  let size = 0;
  const onData = (c: Buffer) => {
    size += c.length;
    if (size <= MAX_BODY_BYTES) return;
    req.off('data', onData);
    req.pause();
    res.once('finish', () => req.destroy());
    sendError(res, tooLarge());
  };
  req.on('data', onData);
}

/**
 * Reads the whole body, refusing more than {@link MAX_BODY_BYTES} (a chunked body is cut off there).
 *
 * @example
 * ```ts
 * const bytes = await readBody(req);
 * ```
 */
export function readBody(req: IncomingMessage): Promise<Buffer> {
  checkDeclaredLength(req);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY_BYTES) return void chunks.push(c);
      req.off('data', onData);
      // Nothing more is read; the problem goes out with `Connection: close`.
      req.pause();
      reject(tooLarge());
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

/**
 * Reads a JSON object body (unknown fields are the caller's to ignore). Malformed JSON or anything
 * but an object is a 400 `SL_ERR_BAD_REQUEST`; an empty body is `{}`.
 *
 * @example
 * ```ts
 * const { username, password } = await readJson(req);
 * ```
 */
export async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  return parseJsonObject(await readBody(req));
}

/**
 * Parses bytes already read as a JSON object (see {@link readJson}).
 *
 * @example
 * ```ts
 * parseJsonObject(Buffer.from('{"qty":1}')); // { qty: 1 }
 * ```
 */
export function parseJsonObject(bytes: Buffer | undefined): Record<string, unknown> {
  if (!bytes || bytes.length === 0) return {};
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    fail(SL_ERR_BAD_REQUEST, 'the body is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    fail(SL_ERR_BAD_REQUEST, 'the body must be a JSON object');
  return value as Record<string, unknown>;
}
