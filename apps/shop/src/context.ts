import type { IncomingMessage } from 'node:http';
import type { Forwarded } from 'stateline/http';
import type { Logger } from 'pino';
import type { Session, SessionManager } from 'stateline/session';
import type { Store } from 'stateline/store';
import type { Tokens } from 'stateline/tokens';
import type { ShopConfig } from './config.js';
import type { LoginLimit } from './login-limit.js';

/** What the route handlers share: one per instance. */
export interface ShopContext {
  config: ShopConfig;
  /** The Store, counted and timed by `stateline/metrics` (users, orders, login counts, sessions, idempotency). */
  store: Store;
  sessions: SessionManager;
  /** Bearer tokens for API clients; their families are listed and revoked through `sessions`. */
  tokens: Tokens;
  limit: LoginLimit;
  log: Logger;
  /** The client's address, scheme and host, X-Forwarded-* believed only from trusted proxies. */
  client: (req: IncomingMessage) => Forwarded;
}

/** A request whose session `withSession` loaded. */
export type SessionRequest = IncomingMessage & { session: Session };
