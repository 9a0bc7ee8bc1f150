import type { Bus } from '../bus/types.js';
import type { Log } from '../log/types.js';
import type { HubStats } from './types.js';

/** What every room of one hub instance shares. */
export interface RoomContext {
  readonly log: Log;
  readonly bus: Bus;
  readonly instanceId: string;
  readonly prefix: string;
  readonly heartbeat: number;
  readonly reorderWait: number;
  readonly dedupWindow: number;
  readonly queueLimit: number;
  /** Under load, fan-out batches messages over this many ms (0: always per event-loop turn). */
  readonly flushInterval: number;
  readonly stats: HubStats;
  warn(message: string, err?: unknown): void;
}

/** Where the parts of a room read its lifecycle. */
export interface RoomLifecycle {
  /** Deactivated: nothing is delivered, published or scheduled any more. */
  readonly closed: boolean;
  /** Activated (subscribed, head known) and not closed. */
  readonly live: boolean;
}
