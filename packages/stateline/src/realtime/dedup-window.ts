import type { LogEntry } from '../log/types.js';
import { dedupKey, parseStored } from './codec.js';

/** Where a message was stored. */
export interface Stored {
  offset: number;
  epoch: string;
}

/**
 * The `(from, id)` pairs one room knows to be stored: the latest `size` of them with their
 * offsets, and those being stored right now, so a resent `send` is never stored twice.
 *
 * @example
 * ```ts
 * const seen = new DedupWindow(4096);
 * const key = dedupKey('alice', 'm1');
 * seen.pending(key) ?? seen.track(key, store());
 * ```
 */
export class DedupWindow {
  private readonly known = new Map<string, number>();
  private readonly inflight = new Map<string, Promise<Stored>>();

  constructor(private readonly size: number) {}

  /** True when this sender's id was already stored (or is being stored). */
  has(from: string, id: string): boolean {
    const key = dedupKey(from, id);
    return this.known.has(key) || this.inflight.has(key);
  }

  /** The offset a key was stored at, when it is within the window. */
  offsetOf(key: string): number | undefined {
    return this.known.get(key);
  }

  /** The store of a key under way. */
  pending(key: string): Promise<Stored> | undefined {
    return this.inflight.get(key);
  }

  /** Marks a key as being stored until `work` settles; returns what waits for it. */
  track(key: string, work: Promise<Stored>): Promise<Stored> {
    const tracked = work.finally(() => this.inflight.delete(key));
    this.inflight.set(key, tracked);
    return tracked;
  }

  /** A key was stored at `offset` (the first offset seen for a key stays). */
  remember(key: string, offset: number): void {
    if (this.known.has(key)) return;
    this.known.set(key, offset);
    if (this.known.size > this.size) this.known.delete(this.known.keys().next().value as string);
  }

  /** Keys of entries read from the Log (a resent id must be refused on any instance). */
  learn(entries: readonly LogEntry[]): void {
    for (const e of entries) {
      const m = parseStored(e.data);
      if (m) this.remember(dedupKey(m.from, m.id), e.offset);
    }
  }

  /** The history was replaced (new epoch): its offsets mean nothing any more. */
  clear(): void {
    this.known.clear();
  }
}
