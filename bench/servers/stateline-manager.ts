import { fromExpressSession, fromFastifySession, fromIronSession } from 'stateline/migrate';
import type { SessionManager, SessionOptions, SessionStrategy } from 'stateline/session';
import { createSessions } from 'stateline/session';
import { memcachedServer } from './memcached-admin.js';
import { BENCH_SECRET, REDIS_URL } from './rows.js';

/**
 * The Stateline manager of a row, set up the way the docs tell users to run it in production:
 * `server` and `hybrid` records on Redis, `hybrid` invalidations and `token` revocations over a
 * Redis bus (the token strategy keeps its deny lists in the Store), `memory` in process. `extra`:
 * options on top (the growth bench's `token` with `compress`). `backend: 'memcached'`: the records
 * on the bench's memcached instead (`server` only: the other strategies would need a bus beside it).
 */
export function statelineSessions(
  strategy: SessionStrategy,
  prefix: string,
  extra: Partial<SessionOptions> = {},
  backend: 'redis' | 'memcached' = 'redis',
): Promise<SessionManager> {
  const redis = { type: 'redis' as const, url: REDIS_URL, prefix };
  const store =
    backend === 'memcached' ? { type: 'memcached' as const, servers: [memcachedServer()], prefix } : redis;
  return createSessions({
    strategy,
    keys: [BENCH_SECRET],
    ...(strategy === 'memory' ? {} : { store }),
    ...(strategy === 'hybrid' || strategy === 'token' ? { bus: redis } : {}),
    ...extra,
  });
}

/**
 * The readers a team moving to Stateline would configure (the `…-migrate` rows): one per legacy
 * library, each with its own cookie name, none of which the bench's clients carry.
 */
export function migrateReaders(prefix: string): NonNullable<SessionOptions['migrate']> {
  return [
    fromExpressSession({ secret: BENCH_SECRET, store: REDIS_URL, prefix: `${prefix}legacy-es:` }),
    fromFastifySession({ secret: BENCH_SECRET, store: REDIS_URL, prefix: `${prefix}legacy-fs:` }),
    fromIronSession({ password: BENCH_SECRET, cookieName: 'iron' }),
  ];
}
