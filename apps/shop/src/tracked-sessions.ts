import type { SessionManager } from 'stateline/session';
import type { SessionCounters } from './metrics.js';

/**
 * The session manager with one more count: a well-signed session cookie whose session is gone
 * (revoked, logged out elsewhere, swept, evicted) loads as a fresh anonymous session. The library
 * counts that as `metrics.missing` for the strategies that look a record up; this wrapper counts it
 * for every strategy alike in `counters.ended`, when no refusal counter moved during the load (so
 * tampered and expired cookies are not counted twice).
 *
 * @example
 * ```ts
 * const handler = withSession(trackSessions(sessions, counters), routes);
 * ```
 */
export function trackSessions(sessions: SessionManager, counters: SessionCounters): SessionManager {
  const refused = () => {
    const m = sessions.metrics;
    return m.invalidCookies + m.expired + m.revokedRefused + m.storeErrors;
  };
  return {
    get strategy() {
      return sessions.strategy;
    },
    get store() {
      return sessions.store;
    },
    get metrics() {
      return sessions.metrics;
    },
    async load(request) {
      const before = refused();
      const session = await sessions.load(request);
      if (
        session.handle === null &&
        /(?:^|;\s*)(?:__Host-)?sl\.sid=/.test(request.cookie ?? '') &&
        refused() === before
      )
        counters.ended++;
      return session;
    },
    list: (userId) => sessions.list(userId),
    revoke: (handle, options) => sessions.revoke(handle, options),
    revokeAll: (userId) => sessions.revokeAll(userId),
    close: () => sessions.close(),
  };
}
