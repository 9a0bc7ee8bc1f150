import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { SL_ERR_BAD_REQUEST, problem } from 'stateline/http';
import type { ErrorCode, ErrorDefinition } from 'stateline/errors';
import { SL_ERR_REQUEST_HEADERS_TOO_LARGE } from './errors.js';

/**
 * A raw HTTP/1.1 problem answer for a socket that has no ServerResponse (parse errors, refused
 * upgrades), always closing the connection afterwards.
 */
export function rawProblem(
  code: ErrorCode | ErrorDefinition,
  detail: string,
  extraHeaders?: Record<string, string>,
): string {
  const p = problem(code, detail, extraHeaders);
  let head = `HTTP/1.1 ${p.status} ${STATUS_CODES[p.status] ?? ''}\r\n`;
  for (const [name, value] of Object.entries(p.headers)) head += `${name}: ${value}\r\n`;
  return `${head}content-length: ${Buffer.byteLength(p.body)}\r\nconnection: close\r\n\r\n${p.body}`;
}

/**
 * The server's `clientError` handler: malformed requests get a problem+json 400 (431 for
 * oversized headers, 408 for a request that took too long) and the connection is closed; a socket
 * that already carries a response, or cannot be written, is just destroyed. Never throws.
 */
export function onClientError(err: Error & { code?: string }, socket: Duplex): void {
  const inProgress = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
  if (err.code === 'ECONNRESET' || !socket.writable || inProgress?.headersSent) {
    socket.destroy();
    return;
  }
  let answer: string;
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    answer = rawProblem(SL_ERR_REQUEST_HEADERS_TOO_LARGE, 'the request headers exceed the limit');
  } else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    answer = 'HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n';
  } else {
    answer = rawProblem(SL_ERR_BAD_REQUEST, `the request could not be parsed (${err.code ?? 'parse error'})`);
  }
  // Destroy once flushed: a client that never half-closes must not hold the socket open.
  socket.once('finish', () => socket.destroy());
  socket.end(answer);
}
