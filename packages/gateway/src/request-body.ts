import { PassThrough, type Readable } from 'node:stream';
import type { IncomingMessage } from 'node:http';

/** A request body ready for undici: buffered (replayable on retry) or streaming (sent once). */
export type PreparedBody = { kind: 'buffered'; body: Buffer } | { kind: 'streaming'; body: Readable };

/**
 * The request body failed on the client's side: it outgrew the gateway's limit (`tooLarge`) or the
 * client went away while sending it. Never the instance's fault.
 */
export class ClientBodyError extends Error {
  constructor(readonly tooLarge: boolean) {
    super(tooLarge ? 'the request body exceeds the limit' : 'the client went away while sending its body');
  }
}

/**
 * A stream undici may destroy when the upstream fails without taking the client's request (and
 * with it the connection the gateway still has to answer on) down too. Past `limit` bytes in all
 * it fails with a {@link ClientBodyError}, as it does when the client's request breaks off.
 */
function detachable(req: IncomingMessage, head: Buffer[], size: number, limit: number): Readable {
  const out = new PassThrough();
  for (const chunk of head) out.write(chunk);
  let seen = size;
  const onData = (chunk: Buffer) => {
    seen += chunk.length;
    if (seen <= limit) return;
    req.unpipe(out);
    req.off('data', onData);
    out.destroy(new ClientBodyError(true));
  };
  req.on('data', onData);
  req.pipe(out);
  req.on('error', () => out.destroy(new ClientBodyError(false)));
  req.on('close', () => {
    if (!req.complete) out.destroy(new ClientBodyError(false));
  });
  return out;
}

/**
 * Buffers a request body of at most `replayMax` bytes so it can be sent again to another instance.
 * A body announced larger streams straight through; a chunked body that outgrows `replayMax`
 * streams on from what was already read. A body over `limit` rejects with a
 * {@link ClientBodyError} (`tooLarge`) while buffering, or fails the stream once it passes the
 * limit. Rejects with a {@link ClientBodyError} when the client goes away before the body is complete.
 */
export function prepareBody(
  req: IncomingMessage,
  contentLength: number,
  replayMax: number,
  limit: number,
): Promise<PreparedBody> {
  if (contentLength > limit) return Promise.reject(new ClientBodyError(true));
  if (contentLength > replayMax)
    return Promise.resolve({ kind: 'streaming', body: detachable(req, [], 0, limit) });
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      chunks.push(chunk);
      if (size > limit) {
        cleanup();
        req.pause();
        reject(new ClientBodyError(true));
      } else if (size > replayMax) {
        cleanup();
        req.pause();
        resolve({ kind: 'streaming', body: detachable(req, chunks, size, limit) });
      }
    };
    const onEnd = () => {
      cleanup();
      resolve({ kind: 'buffered', body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size) });
    };
    const onError = () => {
      cleanup();
      reject(new ClientBodyError(false));
    };
    const onClose = () => {
      cleanup();
      if (!req.complete) reject(new ClientBodyError(false));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}
