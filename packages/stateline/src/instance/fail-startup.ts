import { instanceIdFromEnv } from './env.js';
import { isSupervised, tellSupervisor } from './supervisor-protocol.js';

/** One line for a startup error: its message (a Stateline error names the store and the cause). */
function startupReason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return (
    message
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .join(' ') || 'unknown error'
  );
}

/**
 * Ends an instance process whose app could not start (its Store unreachable, say) the way a
 * command-line tool should: one line, no stack, exit code 1. Under a supervisor (`stateline up`)
 * the line goes to the supervisor, which reports it as its own one line; on its own the process
 * prints `stateline instance <id>: cannot start: <reason>` to stderr. The promise never settles:
 * `await`ing it stops the startup code where it is.
 *
 * @example
 * ```ts
 * const shop = await createShop().catch(failStartup);
 * await runInstance(shop.handler, { ready: shop.ready, close: shop.close });
 * ```
 */
export function failStartup(err: unknown): Promise<never> {
  const reason = startupReason(err);
  if (isSupervised()) {
    tellSupervisor({ $sl: 'supervisor', type: 'failed', reason }, () => process.exit(1));
    // Should the send never complete, the process still ends.
    setTimeout(() => process.exit(1), 2000);
  } else {
    // stderr is synchronous for files, terminals and (on Linux) pipes.
    process.stderr.write(`stateline instance ${instanceIdFromEnv()}: cannot start: ${reason}\n`);
    process.exit(1);
  }
  return new Promise<never>(() => {});
}
