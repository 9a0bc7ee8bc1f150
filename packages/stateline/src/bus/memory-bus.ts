import { CallGuard } from '../internal/guard.js';
import { processLogger, resolveLogger, type Logger } from '../logger.js';
import type { Bus, BusHandler, MemoryBusOptions } from './types.js';

type Hub = Map<string, Set<BusHandler>>;
const hubs = new WeakMap<object, Hub>();
const DEFAULT_HUB = {};
const DEFAULT_LOG = processLogger();

/** A Bus inside one process: every MemoryBus on the same hub hears every other. */
export class MemoryBus implements Bus {
  readonly backend = 'memory' as const;
  private readonly hub: Hub;
  private readonly prefix: string;
  private readonly guard: CallGuard;
  private readonly mine = new Set<[string, BusHandler]>();
  private readonly log: Logger;

  constructor(options: Omit<MemoryBusOptions, 'type'> = {}) {
    const key = options.hub ?? DEFAULT_HUB;
    let hub = hubs.get(key);
    if (!hub) hubs.set(key, (hub = new Map()));
    this.hub = hub;
    this.prefix = options.prefix ?? 'sl:';
    this.guard = new CallGuard('SL_ERR_BUS_UNAVAILABLE', 'memory bus', options.timeout ?? 2000);
    this.log = resolveLogger(options.logger, 'memory bus');
  }

  publish(channel: string, message: string): Promise<void> {
    return this.guard.run('publish', () => {
      const handlers = this.hub.get(this.prefix + channel);
      if (!handlers) return;
      // Deliver asynchronously, like a network bus would, and isolate handler failures.
      for (const h of [...handlers]) queueMicrotask(() => safeCall(h, message, channel, this.log));
    });
  }

  subscribe(channel: string, handler: BusHandler): Promise<() => Promise<void>> {
    return this.guard.run('subscribe', () => {
      const name = this.prefix + channel;
      let set = this.hub.get(name);
      if (!set) this.hub.set(name, (set = new Set()));
      const wrapped: BusHandler = (m, c) => handler(m, c);
      set.add(wrapped);
      const entry: [string, BusHandler] = [name, wrapped];
      this.mine.add(entry);
      return async () => {
        this.mine.delete(entry);
        this.remove(name, wrapped);
      };
    });
  }

  onConnectionChange(): () => void {
    return () => {};
  }

  private remove(name: string, handler: BusHandler): void {
    const set = this.hub.get(name);
    set?.delete(handler);
    if (set?.size === 0) this.hub.delete(name);
  }

  async close(): Promise<void> {
    if (!this.guard.close()) return;
    for (const [name, h] of this.mine) this.remove(name, h);
    this.mine.clear();
  }
}

/** Runs a subscriber; a throwing handler must never break delivery to the others. */
export function safeCall(
  handler: BusHandler,
  message: string,
  channel: string,
  log: Logger = DEFAULT_LOG,
): void {
  try {
    handler(message, channel);
  } catch (err) {
    log.warn({ err, channel }, `stateline bus handler for "${channel}" threw`);
  }
}
