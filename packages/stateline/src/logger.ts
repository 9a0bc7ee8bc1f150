/**
 * `stateline/logger`: the one logger type every component takes as its `logger` option.
 *
 * @example
 * ```ts
 * import pino from 'pino';
 * import { createSessions } from 'stateline/session';
 * const logger = pino();
 * const sessions = await createSessions({ strategy: 'server', keys: [process.env.SESSION_KEY], logger });
 * ```
 * @module
 */
import { StatelineError } from './errors.js';

/**
 * One level of a {@link Logger}: pino's `(obj, msg)` call shape.
 *
 * @example
 * ```ts
 * const warn: LogFn = (obj, msg) => console.warn(msg, obj.err);
 * ```
 */
export type LogFn = (obj: Record<string, unknown>, msg?: string) => void;

/**
 * What a component logs to. A pino logger (or a pino child) fits as it is; so does anything with
 * these four methods taking a context object first (the failure, when there is one, as `err`)
 * and the message second.
 *
 * @example
 * ```ts
 * import type { Logger } from 'stateline/logger';
 * const lines: string[] = [];
 * const logger: Logger = {
 *   error: (obj, msg) => lines.push(`error ${msg}`),
 *   warn: (obj, msg) => lines.push(`warn ${msg}`),
 *   info: (obj, msg) => lines.push(`info ${msg}`),
 *   debug: () => {},
 * };
 * ```
 */
export interface Logger {
  error: LogFn;
  warn: LogFn;
  info: LogFn;
  debug: LogFn;
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The logger a component uses when given none: errors to `console.error` (with the error itself,
 * so its stack reaches stderr), warnings as process warnings of `warningType` (seen once by
 * default, silenced by `--no-warnings`, observable with `process.on('warning')`), `info` to
 * `console.log`, `debug` nowhere.
 *
 * @example
 * ```ts
 * const log = processLogger('StatelineRealtimeWarning');
 * log.warn({ err: new Error('timeout') }, 'realtime: publish to lobby failed');
 * // (node:123) StatelineRealtimeWarning: realtime: publish to lobby failed: timeout
 * ```
 */
export function processLogger(warningType = 'StatelineWarning'): Logger {
  return {
    error(obj, msg = 'error') {
      if (obj.err === undefined) console.error(msg);
      else console.error(`${msg}:`, obj.err);
    },
    warn(obj, msg = 'warning') {
      process.emitWarning(obj.err === undefined ? msg : `${msg}: ${reason(obj.err)}`, warningType);
    },
    info(_obj, msg) {
      if (msg !== undefined) console.log(msg);
    },
    debug() {},
  };
}

const LEVELS = ['error', 'warn', 'info', 'debug'] as const;

/**
 * The `logger` option of a component, checked: the given logger, or the default one when absent.
 * Anything without the four methods is `SL_ERR_INVALID_OPTION`.
 *
 * @example
 * ```ts
 * const log = resolveLogger(options.logger, 'createHub', 'StatelineRealtimeWarning');
 * ```
 */
export function resolveLogger(given: unknown, where: string, warningType?: string): Logger {
  if (given === undefined) return processLogger(warningType);
  const l = given as Partial<Record<(typeof LEVELS)[number], unknown>> | null;
  if (typeof l !== 'object' || l === null || !LEVELS.every((level) => typeof l[level] === 'function')) {
    throw new StatelineError(
      'SL_ERR_INVALID_OPTION',
      `${where}: logger must have error, warn, info and debug methods (a pino logger fits)`,
    );
  }
  return given as Logger;
}
