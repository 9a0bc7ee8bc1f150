import { CallGuard } from '../internal/guard.js';
import {
  appendFence,
  appendKey,
  checkFence,
  checkThrough,
  fenced,
  newEpoch,
  normalizeRetention,
  readLimit,
  resolveRead,
  checkSince,
} from './retention.js';
import type {
  AppendOptions,
  AppendResult,
  Log,
  LogEntry,
  MemoryLogOptions,
  ReadOptions,
  ReadResult,
} from './types.js';

interface Stream {
  epoch: string;
  head: number;
  trimmedThrough: number;
  entries: KeyedEntry[];
  /** Append key → offset, for the entries still held. */
  keys: Map<string, number>;
  /** The highest fence accepted (0: none). */
  fence: number;
}

interface KeyedEntry extends LogEntry {
  key: string | null;
}

/** A Log in this process's memory (a bounded ring per stream): for tests and single-process apps. */
export class MemoryLog implements Log {
  readonly backend = 'memory' as const;
  private readonly streams = new Map<string, Stream>();
  private readonly retention: { maxCount: number; maxAge: number | null };
  private readonly now: () => number;
  private readonly prefix: string;
  private readonly guard: CallGuard;

  constructor(options: Omit<MemoryLogOptions, 'type'> = {}) {
    this.retention = normalizeRetention(options.retention);
    this.now = options.now ?? Date.now;
    this.prefix = options.prefix ?? 'sl:';
    this.guard = new CallGuard('SL_ERR_LOG_UNAVAILABLE', 'memory log', options.timeout ?? 2000);
  }

  private stream(name: string): Stream {
    let s = this.streams.get(this.prefix + name);
    if (!s)
      this.streams.set(
        this.prefix + name,
        (s = { epoch: newEpoch(), head: 0, trimmedThrough: 0, entries: [], keys: new Map(), fence: 0 }),
      );
    return s;
  }

  private applyRetention(s: Stream): void {
    const { maxCount, maxAge } = this.retention;
    let drop = Math.max(0, s.entries.length - maxCount);
    if (maxAge !== null) {
      const cutoff = this.now() - maxAge;
      while (drop < s.entries.length && s.entries[drop]!.at < cutoff) drop++;
    }
    if (drop > 0) {
      s.trimmedThrough = s.entries[drop - 1]!.offset;
      for (let i = 0; i < drop; i++) {
        const key = s.entries[i]!.key;
        if (key !== null) s.keys.delete(key);
      }
      s.entries.splice(0, drop);
    }
  }

  append(stream: string, data: string, options?: AppendOptions): Promise<AppendResult> {
    return this.guard.run('append', () => {
      const key = appendKey(options);
      const fence = appendFence(options);
      const s = this.stream(stream);
      if (fence !== null) {
        if (fence < s.fence) throw fenced(stream, fence, s.fence);
        s.fence = fence;
      }
      if (key !== null) {
        this.applyRetention(s);
        const known = s.keys.get(key);
        if (known !== undefined) {
          const e = s.entries[known - s.trimmedThrough - 1]!;
          return { offset: e.offset, epoch: s.epoch, at: e.at, duplicate: true };
        }
      }
      const entry = { offset: ++s.head, data, at: this.now(), key };
      s.entries.push(entry);
      if (key !== null) s.keys.set(key, entry.offset);
      this.applyRetention(s);
      return { offset: entry.offset, epoch: s.epoch, at: entry.at, duplicate: false };
    });
  }

  fence(stream: string, fence: number): Promise<void> {
    return this.guard.run('fence', () => {
      checkFence(fence);
      const s = this.stream(stream);
      if (fence < s.fence) throw fenced(stream, fence, s.fence);
      s.fence = fence;
    });
  }

  trim(stream: string, through: number, options?: { fence?: number }): Promise<void> {
    return this.guard.run('trim', () => {
      checkThrough(through);
      const fence = appendFence(options);
      const s = this.stream(stream);
      if (fence !== null && fence < s.fence) throw fenced(stream, fence, s.fence);
      const cut = Math.min(through, s.head);
      let drop = 0;
      while (drop < s.entries.length && s.entries[drop]!.offset <= cut) {
        const key = s.entries[drop]!.key;
        if (key !== null) s.keys.delete(key);
        drop++;
      }
      s.entries.splice(0, drop);
      s.trimmedThrough = Math.max(s.trimmedThrough, cut);
    });
  }

  read(stream: string, since: number, options: ReadOptions = {}): Promise<ReadResult> {
    return this.guard.run('read', () => {
      checkSince(since);
      const limit = readLimit(options.limit);
      const s = this.stream(stream);
      this.applyRetention(s);
      const { from, complete } = resolveRead(since, options.epoch, s.epoch, s.trimmedThrough);
      const entries: LogEntry[] = [];
      for (const e of s.entries) {
        if (e.offset <= from) continue;
        entries.push({ offset: e.offset, data: e.data, at: e.at });
        if (entries.length >= limit) break;
      }
      return { epoch: s.epoch, entries, head: s.head, complete };
    });
  }

  async close(): Promise<void> {
    this.guard.close();
  }
}
