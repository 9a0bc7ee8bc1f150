import type { Log, LogEntry, ReadResult } from '../log/types.js';
import { messageJson, parseStored, storedData } from './codec.js';
import { textFrame } from './ws-frame.js';

/** Entries per Log read. */
export const PAGE = 1000;
/** Frames of recent messages kept per room so resumes reuse them instead of rebuilding. */
const RECENT = 2048;

/**
 * A room's history: reads of its Log stream, and the frames of its recent messages, kept as they
 * went live so a resume writes the same Buffers instead of encoding them again.
 *
 * @example
 * ```ts
 * const history = new RoomHistory('lobby', 'rt:lobby', log);
 * const r = await history.read(41, epoch);
 * for (const e of r.entries) socket.write(history.frameOf(e));
 * ```
 */
export class RoomHistory {
  private readonly recent = new Map<number, Buffer>();

  constructor(
    private readonly room: string,
    /** The room's Log stream. */
    readonly stream: string,
    private readonly log: Log,
  ) {}

  /** The head and epoch, without entries. */
  readHead(): Promise<ReadResult> {
    return this.log.read(this.stream, Number.MAX_SAFE_INTEGER, { limit: 1 });
  }

  read(since: number, epoch: string | undefined, limit = PAGE): Promise<ReadResult> {
    return this.log.read(this.stream, since, epoch === undefined ? { limit } : { limit, epoch });
  }

  /** Keeps the frame of a message that went live (the oldest kept one goes beyond `RECENT`). */
  keep(offset: number, frame: Buffer): void {
    this.recent.set(offset, frame);
    if (this.recent.size > RECENT) this.recent.delete(this.recent.keys().next().value as number);
  }

  /** The history was replaced (new epoch): kept frames belong to the old one. */
  forget(): void {
    this.recent.clear();
  }

  /** The frame of a Log entry, reusing the one built when it went live. */
  frameOf(entry: LogEntry): Buffer {
    const cached = this.recent.get(entry.offset);
    if (cached) return cached;
    return textFrame(this.entryJson(entry));
  }

  /** The `message` frame JSON of a Log entry (an entry another writer stored shows as plain text). */
  entryJson(e: LogEntry): string {
    const m = parseStored(e.data) ?? { id: '', from: '', text: e.data };
    return messageJson(this.room, e.offset, e.at, storedData(m));
  }
}
