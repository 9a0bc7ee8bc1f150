import { StatelineError } from '../errors.js';

/**
 * Something a drain closes once the server stopped: a function, or an object with `close()` (a
 * Store, Bus, Log, session manager or realtime hub).
 *
 * @example
 * ```ts
 * const close: Closable[] = [sessions, () => logger.flush(), bus, store];
 * await runInstance(app, { close });
 * ```
 */
export type Closable = (() => unknown) | { close(): unknown };

function bounded(closable: Closable, timeout: number, label: string): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    Promise.resolve().then(() => (typeof closable === 'function' ? closable() : closable.close())),
    new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new StatelineError('SL_ERR_INTERNAL', `${label} did not finish within ${timeout} ms`)),
        timeout,
      );
    }),
  ]).finally(() => clearTimeout(timer));
}

function isList(close: Closable | readonly Closable[]): close is readonly Closable[] {
  return Array.isArray(close);
}

/**
 * Closes each in order (a Store after the session manager that writes to it), each given at most
 * `timeout` ms: one that throws or hangs does not keep the next from closing. Rejects with the
 * first failure once every one had its turn.
 */
export async function closeInOrder(
  close: Closable | readonly Closable[] | undefined,
  timeout: number,
): Promise<void> {
  const closables = close === undefined ? [] : isList(close) ? close : [close];
  let first: { err: unknown } | undefined;
  for (const [i, closable] of closables.entries()) {
    try {
      await bounded(closable, timeout, `close ${i + 1} of ${closables.length}`);
    } catch (err) {
      first ??= { err };
    }
  }
  if (first) throw first.err;
}
