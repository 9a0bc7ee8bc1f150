import { PassThrough, type Readable } from 'node:stream';
import type { IncomingMessage } from 'node:http';

/** A request body ready for undici: buffered (replayable on retry) or streaming (sent once). */
export type PreparedBody = { kind: 'buffered'; body: Buffer } | { kind: 'streaming'; body: Readable };

/**
 * A stream undici may destroy when the upstream fails without taking the client's request (and
 * with it the connection the gateway still has to answer on) down too.
 */
function detachable(req: IncomingMessage, head: Buffer[]): Readable {
  const out = new PassThrough();
  for (const chunk of head) out.write(chunk);
  req.pipe(out);
  req.on('error', (err) => out.destroy(err));
  return out;
}

/**
 * Buffers a request body of at most `max` bytes so it can be sent again to another instance. A
 * body announced larger streams straight through; a chunked body that outgrows `max` streams on
 * from what was already read. Rejects when the client goes away before the body is complete.
 */
export function prepareBody(req: IncomingMessage, contentLength: number, max: number): Promise<PreparedBody> {
  if (contentLength > max) return Promise.resolve({ kind: 'streaming', body: detachable(req, []) });
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
      if (size > max) {
        cleanup();
        req.pause();
        resolve({ kind: 'streaming', body: detachable(req, chunks) });
      }
    };
    const onEnd = () => {
      cleanup();
      resolve({ kind: 'buffered', body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size) });
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onClose = () => {
      cleanup();
      if (!req.complete) reject(new Error('the client closed the connection before sending the whole body'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}
