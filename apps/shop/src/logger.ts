import { pino, type Logger } from 'pino';

/** Fields that must never reach a log line, wherever they appear. */
const REDACT = [
  'password',
  '*.password',
  'cookie',
  '*.cookie',
  'headers.cookie',
  'headers["set-cookie"]',
  '*.headers.cookie',
  '*.headers["set-cookie"]',
  'token',
  '*.token',
  'sessionId',
  '*.sessionId',
];

/**
 * The instance's pino logger: JSON lines on stdout, `instance` on every line, secrets redacted.
 * `LOG_LEVEL=silent` turns it off.
 *
 * @example
 * ```ts
 * const log = createLogger('i1', 'info');
 * log.info({ reqId, method: 'GET', route: '/api/cart', status: 200, ms: 3.1 }, 'request');
 * ```
 */
export function createLogger(instance: string, level: string): Logger {
  return pino({
    level,
    base: { instance },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT, censor: '[redacted]' },
  });
}
