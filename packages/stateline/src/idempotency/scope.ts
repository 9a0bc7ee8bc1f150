/** What the default scope reads from the session the session middleware attaches (`req.session`, `c.get('session')`). */
interface SessionLike {
  userId: string | null;
  /** `null` for a session this request is creating: the client does not hold it yet. */
  handle: string | null;
}

function isSessionLike(value: unknown): value is SessionLike {
  if (value === null || typeof value !== 'object') return false;
  const s = value as Record<string, unknown>;
  return (
    (typeof s.handle === 'string' || s.handle === null) && (typeof s.userId === 'string' || s.userId === null)
  );
}

/**
 * The default scope: the logged-in user (`u:<id>`), else the session the client already holds
 * (`s:<handle>`), else the client address (`a:<ip>`). A session created by this very request
 * has no handle yet, so a retry without its cookie still finds the same scope by address.
 * Requests with none of these share the scope `a:unknown`.
 */
export function defaultScope(session: unknown, address: string | undefined): string {
  if (isSessionLike(session)) {
    if (session.userId) return `u:${session.userId}`;
    if (session.handle) return `s:${session.handle}`;
  }
  return `a:${address || 'unknown'}`;
}
