import { randomUUID } from 'node:crypto';
import { StatelineError } from '../errors.js';
import { rejectUnknown } from '../internal/spec.js';
import { zeroMetrics } from '../session/manager.js';
import { resolveOptions } from '../session/options.js';
import { Resources } from '../session/resources.js';
import { STRATEGIES } from '../session/strategies/index.js';
import type { SessionStrategy } from '../session/strategy.js';
import type { SessionOptions } from '../session/types.js';
import type { LegacySession, MigrationReader } from './types.js';

/**
 * A previous Stateline configuration, as `createSessions` was given it: the same strategy, keys,
 * Store, Bus, cookie and timeouts. Its `instanceId` (memory) defaults to this process's
 * `STATELINE_INSTANCE_ID` + `.migrate`, so the reader never takes the id of a live manager.
 */
export type FromStatelineOptions = Pick<
  SessionOptions,
  | 'strategy'
  | 'store'
  | 'bus'
  | 'keys'
  | 'idleTimeout'
  | 'absoluteTimeout'
  | 'renewalGrace'
  | 'cookie'
  | 'trustProxy'
  | 'maxTokenBytes'
  | 'replication'
  | 'instanceId'
  | 'replicationTimeout'
  | 'revocationSync'
  | 'now'
>;

const KNOWN: readonly (keyof FromStatelineOptions)[] = [
  'strategy',
  'store',
  'bus',
  'keys',
  'idleTimeout',
  'absoluteTimeout',
  'renewalGrace',
  'cookie',
  'trustProxy',
  'maxTokenBytes',
  'replication',
  'instanceId',
  'replicationTimeout',
  'revocationSync',
  'now',
];

/**
 * Reads cookies issued by a previous Stateline configuration, so that switching strategy (a
 * rolling restart from `token` to `server`, from `memory` to `hybrid`, any pair) logs nobody out:
 * the request's old session becomes a new session of the current strategy with the same data and
 * user, and the old one is retired (deleted, or revoked for a token) once the new cookie is set.
 *
 * The reader opens the previous strategy itself, read-only: a token is opened with the old keys
 * (expiry and revocations honoured), a `server`/`hybrid` record is read from the old Store, and a
 * `memory` record is fetched over the Bus from the instances still running the old configuration
 * (waiting at most `replicationTimeout`, default 500 ms). With replication, the
 * reader also keeps the copies those instances send it, so their sessions outlive the last of them.
 * It opens what it needs at once (a failure is retried on the next request that carries the cookie,
 * and an unreachable Store rejects that request with `SL_ERR_STORE_UNAVAILABLE`) and closes with
 * the manager.
 *
 * @example
 * ```ts
 * import { fromStateline } from 'stateline/migrate';
 * import { createSessions } from 'stateline/session';
 * const keys = [process.env.SESSION_KEY];
 * const sessions = await createSessions({
 *   strategy: 'server',
 *   store: 'redis://127.0.0.1:6379',
 *   keys,
 *   migrate: [fromStateline({ strategy: 'token', keys, store: 'redis://127.0.0.1:6379' })],
 * });
 * ```
 */
export function fromStateline(options: FromStatelineOptions): MigrationReader {
  if (!options || typeof options !== 'object')
    throw new StatelineError('SL_ERR_INVALID_OPTION', 'fromStateline needs the previous configuration');
  rejectUnknown(options, KNOWN, 'fromStateline');
  const instanceId = options.instanceId ?? `${process.env.STATELINE_INSTANCE_ID || randomUUID()}.migrate`;
  const o = resolveOptions({ ...options, instanceId });
  const name = o.cookie.name;
  let opening: Promise<{ impl: SessionStrategy; resources: Resources }> | undefined;
  let closed = false;

  const open = () =>
    (opening ??= (async () => {
      const resources = new Resources();
      try {
        const impl = await STRATEGIES[o.strategy]({
          o,
          store: options.store,
          bus: options.bus,
          metrics: zeroMetrics(),
          resources,
          reader: true,
        });
        return { impl, resources };
      } catch (err) {
        await resources.close();
        opening = undefined;
        throw err;
      }
    })());

  // At once, not on the first request: a memory reader must have heard its peers (and started
  // receiving their copies) before a client comes with an old cookie.
  open().catch(() => {});
  return {
    name: `stateline-${o.strategy}`,
    cookieNames: [name, `__Host-${name}`],
    async read(request): Promise<LegacySession | null> {
      if (closed) throw new StatelineError('SL_ERR_CLOSED', 'the fromStateline reader was closed');
      const { impl } = await open();
      const rec = await impl.open!(request);
      if (!rec) return null;
      return {
        data: { ...rec.d },
        userId: rec.u,
        retire: async () => {
          await impl.revoke(rec.h);
        },
      };
    },
    async close(): Promise<void> {
      closed = true;
      const pending = opening;
      opening = undefined;
      if (pending) await (await pending.catch(() => null))?.resources.close();
    },
  };
}
