/**
 * The NATS Log: one JetStream stream per log stream.
 *
 * Layout: a log stream's messages live on `${prefix}log.${stream}.>` (each part escaped into one
 * subject token): plain appends on `….m`, keyed appends on `….k.<sha256 of the key>`. The
 * JetStream stream holding them is named `sl_<hash of that subject>_<epoch>`, so:
 * - offsets are stream sequences (1, 2, 3 … gap-free: nothing is ever removed but from the front);
 * - the epoch is the stream's identity: a stream deleted and created again (server lost its store,
 *   an operator removed it) gets a new name, hence a new epoch, and starts over at offset 1. Every
 *   append carries `Nats-Expected-Stream`, so an append can never be acknowledged under an epoch
 *   that is no longer the stream's;
 * - retention is the stream's own limits (`max_msgs`, `max_age`, discard old), applied by the
 *   server; `head` is the stream's last sequence and `trimmedThrough` its first sequence − 1.
 *
 * Keyed appends use two server-side checks, both atomic with the append:
 * 1. `Nats-Msg-Id` (JetStream's deduplication window, 2 min or `maxAge` if shorter): a retry
 *    within the window is answered from the server's window with the first entry's sequence.
 * 2. `Nats-Expected-Last-Subject-Sequence: 0` on the key's own subject: the append is refused
 *    while any entry with this key is still in the stream, however old. This covers the window's
 *    edge (a key older than the window), and it forgets a key exactly when retention removes its
 *    entry. When the window still names an entry retention removed, the next message id in a
 *    chain (`<hash>.<removed sequence>`) is used, the same for every racing writer.
 * Fencing: the stream's fence is `max(the newest message on ….f, the Sl-Fence header of the stream's
 * newest message)`. One owner writes an entity's stream, so a fenced append is an optimistic
 * append: it carries its fence in `Sl-Fence` and `Nats-Expected-Last-Sequence` = the sequence it
 * last saw (its own previous append, cached), so any message that got in between (a new owner's
 * fence or append) makes the server refuse it; the writer then reads the fence again and is
 * either refused (`SL_ERR_LOG_FENCED`) or appends again. `fence()` publishes on ….f with
 * `Nats-Expected-Last-Subject-Sequence`, a compare-and-set on the fence subject. Fence messages
 * take a sequence of their own (offsets of a fenced stream may skip them) and reads skip them.
 * The fence survives as long as the newest message is kept: use no `maxAge` for fenced streams.
 * The stream is created by whichever comes first, append or read (a read gives a never-written
 * stream its epoch). `at` is the appending instance's clock, kept in the `Sl-At` header.
 * Retention is fixed when the stream is created: the first Log to touch a stream sets it.
 */
import { createHash } from 'node:crypto';
import type * as JetStream from '@nats-io/jetstream';
import type { JetStreamClient, JetStreamManager, StoredMsg } from '@nats-io/jetstream';
import type * as Transport from '@nats-io/transport-node';
import { StatelineError } from '../errors.js';
import { CallGuard } from '../internal/guard.js';
import { connectNats, subjectToken, type NatsLink } from '../internal/nats-connect.js';
import { loadPeer } from '../internal/peer.js';
import {
  appendFence,
  appendKey,
  checkFence,
  checkThrough,
  checkSince,
  fenced,
  newEpoch,
  normalizeRetention,
  readLimit,
  resolveRead,
} from './retention.js';
import type {
  AppendOptions,
  AppendResult,
  Log,
  LogEntry,
  NatsLogOptions,
  ReadOptions,
  ReadResult,
} from './types.js';

type JetStreamModule = Pick<typeof JetStream, 'jetstream' | 'jetstreamManager'>;
type TransportModule = Pick<typeof Transport, 'headers'>;

const AT = 'Sl-At';
const FENCE = 'Sl-Fence';
/** Rounds of a fenced append or fence() before giving up (each round lost a race). */
const FENCE_ROUNDS = 8;
/** JetStream API error codes the log reacts to. */
const WRONG_LAST_SEQUENCE = 10071;
const STREAM_NOT_FOUND = 10059;
const EXPECTED_STREAM_MISMATCH = 10060;
const SUBJECTS_OVERLAP = 10065;
/** Most gets in flight for one read. */
const READ_BATCH = 256;
/** Stream names remembered per Log (the oldest is forgotten first; a miss costs one lookup). */
const KNOWN_MAX = 10_000;
/** Rounds of a keyed append before giving up (each round means retention raced the append). */
const KEYED_ROUNDS = 8;

/** A stream as this Log knows it: its JetStream name and the epoch that name carries. */
interface Known {
  name: string;
  epoch: string;
}

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

function apiCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** The stream is not there (deleted, or recreated under another epoch): look it up again. */
function streamGone(err: unknown): boolean {
  const code = apiCode(err);
  if (code === STREAM_NOT_FOUND || code === EXPECTED_STREAM_MISMATCH) return true;
  // A publish with no stream listening on its subject: the client reports "no responders".
  return err instanceof Error && err.name === 'JetStreamNotEnabled';
}

class NatsLog implements Log {
  readonly backend = 'nats' as const;
  private readonly base: string;
  private readonly known = new Map<string, Known>();
  private readonly finding = new Map<string, Promise<Known>>();
  /** Per stream and fence, the sequence of this Log's own last fenced append. */
  private readonly lastSeen = new Map<string, number>();

  constructor(
    private readonly link: NatsLink,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly headers: TransportModule['headers'],
    prefix: string,
    private readonly config: {
      maxCount: number;
      maxAge: number | null;
      replicas: number;
      storage: 'file' | 'memory';
    },
    private readonly guard: CallGuard,
  ) {
    this.base = prefix === '' ? 'log.' : `${subjectToken(prefix)}log.`;
  }

  private subjects(stream: string): string {
    return this.base + subjectToken(stream);
  }

  /** The JetStream stream of a log stream, created (with a new epoch) when there is none. */
  private stream(base: string): Promise<Known> {
    const hit = this.known.get(base);
    if (hit) return Promise.resolve(hit);
    let p = this.finding.get(base);
    if (!p) {
      p = this.findOrCreate(base).finally(() => this.finding.delete(base));
      this.finding.set(base, p);
    }
    return p;
  }

  private async findOrCreate(base: string): Promise<Known> {
    const found = (await this.find(base)) ?? (await this.create(base)) ?? (await this.find(base));
    if (!found)
      throw new StatelineError(
        'SL_ERR_LOG_UNAVAILABLE',
        `nats log: no stream holds ${base}.> and none could be made`,
      );
    if (this.known.size >= KNOWN_MAX) this.known.delete(this.known.keys().next().value!);
    this.known.set(base, found);
    return found;
  }

  private async find(base: string): Promise<Known | null> {
    const prefix = `sl_${sha256(base).slice(0, 32)}_`;
    for await (const name of this.jsm.streams.names(`${base}.m`)) {
      if (name.startsWith(prefix)) return { name, epoch: name.slice(prefix.length) };
    }
    return null;
  }

  /** Creates the stream; null when another writer created one first (its subjects overlap). */
  private async create(base: string): Promise<Known | null> {
    const epoch = newEpoch();
    const name = `sl_${sha256(base).slice(0, 32)}_${epoch}`;
    try {
      await this.jsm.streams.add({
        name,
        subjects: [`${base}.>`],
        max_msgs: this.config.maxCount,
        max_age: this.config.maxAge === null ? 0 : Math.round(this.config.maxAge * 1e6),
        discard: 'old',
        storage: this.config.storage,
        num_replicas: this.config.replicas,
        allow_direct: true,
      });
      return { name, epoch };
    } catch (err) {
      if (apiCode(err) === SUBJECTS_OVERLAP) return null;
      throw err;
    }
  }

  private forget(base: string, s: Known): void {
    if (this.known.get(base) === s) this.known.delete(base);
  }

  /** Runs `fn` on the stream, looking it up again when it turns out gone. */
  private async onStream<T>(base: string, fn: (s: Known) => Promise<T>): Promise<T> {
    for (let round = 0; ; round++) {
      const s = await this.stream(base);
      try {
        return await fn(s);
      } catch (err) {
        if (!streamGone(err) || round >= 2) throw err;
        this.forget(base, s);
      }
    }
  }

  /** A stored message by sequence or by last-on-subject; null when retention removed it. */
  private get(s: Known, query: { seq: number } | { last_by_subj: string }): Promise<StoredMsg | null> {
    // Direct gets are answered by any replica, which may lag the leader: ask the leader then.
    return this.config.replicas === 1
      ? this.jsm.direct.getMessage(s.name, query)
      : this.jsm.streams.getMessage(s.name, query);
  }

  private stamp(): { at: number; headers: ReturnType<TransportModule['headers']> } {
    const at = Date.now();
    const headers = this.headers();
    headers.set(AT, String(at));
    return { at, headers };
  }

  append(stream: string, data: string, options?: AppendOptions): Promise<AppendResult> {
    return this.guard.run('append', () => {
      const key = appendKey(options);
      const fence = appendFence(options);
      const base = this.subjects(stream);
      return this.onStream(base, (s) =>
        fence !== null
          ? this.appendFenced(s, stream, base, data, key, fence)
          : key === null
            ? this.appendPlain(s, base, data)
            : this.appendKeyed(s, base, data, key),
      );
    });
  }

  /** The stream's fence and newest sequence, read from the server. */
  private async fenceOf(s: Known, base: string): Promise<{ fence: number; fenceSeq: number; last: number }> {
    const { state } = await this.jsm.streams.info(s.name);
    const marker = await this.get(s, { last_by_subj: `${base}.f` }).catch(() => null);
    const newest = state.last_seq > 0 ? await this.get(s, { seq: state.last_seq }).catch(() => null) : null;
    const fence = Math.max(marker ? Number(marker.string()) : 0, Number(newest?.header?.get(FENCE) || 0));
    return { fence, fenceSeq: marker?.seq ?? 0, last: state.last_seq };
  }

  private async appendFenced(
    s: Known,
    stream: string,
    base: string,
    data: string,
    key: string | null,
    fence: number,
  ): Promise<AppendResult> {
    const cacheKey = `${s.name}\u0000${fence}`;
    for (let round = 0; round < FENCE_ROUNDS; round++) {
      let last = this.lastSeen.get(cacheKey);
      if (last === undefined) {
        const cur = await this.fenceOf(s, base);
        if (fence < cur.fence) throw fenced(stream, fence, cur.fence);
        last = cur.last;
      }
      const { at, headers } = this.stamp();
      headers.set(FENCE, String(fence));
      const subject = key === null ? `${base}.m` : `${base}.k.${sha256(key)}`;
      try {
        const ack = await this.js.publish(subject, data, {
          headers,
          expect: {
            streamName: s.name,
            lastSequence: last,
            ...(key === null ? {} : { lastSubjectSequence: 0 }),
          },
        });
        this.remember(cacheKey, ack.seq);
        return { offset: ack.seq, epoch: s.epoch, at, duplicate: false };
      } catch (err) {
        if (apiCode(err) !== WRONG_LAST_SEQUENCE) throw err;
        this.lastSeen.delete(cacheKey);
        if (key !== null) {
          const held = await this.get(s, { last_by_subj: subject });
          if (held) {
            const cur = await this.fenceOf(s, base);
            if (fence < cur.fence) throw fenced(stream, fence, cur.fence);
            return this.duplicateOf(held, s);
          }
        }
      }
    }
    throw new StatelineError(
      'SL_ERR_LOG_UNAVAILABLE',
      `nats log: a fenced append did not settle in ${FENCE_ROUNDS} rounds`,
    );
  }

  private remember(cacheKey: string, seq: number): void {
    if (this.lastSeen.size >= KNOWN_MAX) this.lastSeen.delete(this.lastSeen.keys().next().value!);
    this.lastSeen.set(cacheKey, seq);
  }

  fence(stream: string, fence: number): Promise<void> {
    return this.guard.run('fence', () => {
      checkFence(fence);
      const base = this.subjects(stream);
      return this.onStream(base, async (s) => {
        for (let round = 0; round < FENCE_ROUNDS; round++) {
          const cur = await this.fenceOf(s, base);
          if (fence < cur.fence) throw fenced(stream, fence, cur.fence);
          if (fence === cur.fence && cur.fenceSeq > 0) return;
          const { headers } = this.stamp();
          headers.set(FENCE, String(fence));
          try {
            await this.js.publish(`${base}.f`, String(fence), {
              headers,
              expect: { streamName: s.name, lastSubjectSequence: cur.fenceSeq },
            });
            return;
          } catch (err) {
            if (apiCode(err) !== WRONG_LAST_SEQUENCE) throw err;
          }
        }
        throw new StatelineError(
          'SL_ERR_LOG_UNAVAILABLE',
          `nats log: fence did not settle in ${FENCE_ROUNDS} rounds`,
        );
      });
    });
  }

  private async appendPlain(s: Known, base: string, data: string): Promise<AppendResult> {
    const { at, headers } = this.stamp();
    const ack = await this.js.publish(`${base}.m`, data, { headers, expect: { streamName: s.name } });
    return { offset: ack.seq, epoch: s.epoch, at, duplicate: false };
  }

  private async appendKeyed(s: Known, base: string, data: string, key: string): Promise<AppendResult> {
    const hash = sha256(key);
    const subject = `${base}.k.${hash}`;
    let msgID = hash;
    for (let round = 0; round < KEYED_ROUNDS; round++) {
      const { at, headers } = this.stamp();
      let ack;
      try {
        ack = await this.js.publish(subject, data, {
          headers,
          msgID,
          expect: { streamName: s.name, lastSubjectSequence: 0 },
        });
      } catch (err) {
        if (apiCode(err) !== WRONG_LAST_SEQUENCE) throw err;
        // Past the window: the key's entry is still in the stream.
        const held = await this.get(s, { last_by_subj: subject });
        if (held) return this.duplicateOf(held, s);
        continue; // removed by retention since: append again
      }
      if (!ack.duplicate) return { offset: ack.seq, epoch: s.epoch, at, duplicate: false };
      const held = await this.get(s, { seq: ack.seq });
      if (held) return this.duplicateOf(held, s);
      // The window remembers an entry retention removed: the next id of the chain.
      msgID = `${hash}.${ack.seq}`;
    }
    throw new StatelineError(
      'SL_ERR_LOG_UNAVAILABLE',
      `nats log: a keyed append did not settle in ${KEYED_ROUNDS} rounds`,
    );
  }

  private duplicateOf(m: StoredMsg, s: Known): AppendResult {
    return { offset: m.seq, epoch: s.epoch, at: this.atOf(m), duplicate: true };
  }

  private atOf(m: StoredMsg): number {
    const at = Number(m.header?.get(AT));
    return Number.isFinite(at) && at > 0 ? at : m.time.getTime();
  }

  /**
   * A purge of the sequences up to `through`, but never of the newest message: it carries the
   * fence. The fence check and the purge are two requests; that is enough for an entity, which
   * trims only behind a snapshot it has already written: any owner that fences after the check
   * reads that snapshot or a newer one, so it never needs what the purge removes.
   */
  trim(stream: string, through: number, options?: { fence?: number }): Promise<void> {
    return this.guard.run('trim', () => {
      checkThrough(through);
      const fence = appendFence(options);
      const base = this.subjects(stream);
      return this.onStream(base, async (s) => {
        const cur = await this.fenceOf(s, base);
        if (fence !== null && fence < cur.fence) throw fenced(stream, fence, cur.fence);
        const keep = Math.min(through + 1, cur.last);
        if (keep > 1) await this.jsm.streams.purge(s.name, { seq: keep });
      });
    });
  }

  read(stream: string, since: number, options: ReadOptions = {}): Promise<ReadResult> {
    return this.guard.run('read', () => {
      checkSince(since);
      const limit = readLimit(options.limit);
      return this.onStream(this.subjects(stream), (s) => this.readFrom(s, since, limit, options.epoch));
    });
  }

  private async readFrom(
    s: Known,
    since: number,
    limit: number,
    readerEpoch: string | undefined,
  ): Promise<ReadResult> {
    const { state } = await this.jsm.streams.info(s.name);
    const head = state.last_seq;
    const first = Math.max(1, state.first_seq);
    const resolved = resolveRead(since, readerEpoch, s.epoch, first - 1);
    let complete = resolved.complete;
    const start = Math.max(resolved.from + 1, first);
    const end = Math.min(head, start + limit - 1);
    const entries: LogEntry[] = [];
    for (let lo = start; lo <= end; lo += READ_BATCH) {
      const seqs = Array.from({ length: Math.min(READ_BATCH, end - lo + 1) }, (_, i) => lo + i);
      const got = await Promise.all(seqs.map((seq) => this.get(s, { seq })));
      for (const [i, m] of got.entries()) {
        // Removed by retention while this read ran: the reader has a gap.
        if (!m) complete = complete && seqs[i]! <= since;
        else if (m.subject.endsWith('.f')) continue;
        else entries.push({ offset: m.seq, data: m.string(), at: this.atOf(m) });
      }
    }
    return { epoch: s.epoch, entries, head, complete };
  }

  async close(): Promise<void> {
    if (!this.guard.close()) return;
    this.known.clear();
    await this.link.close();
  }
}

/**
 * Opens a NATS JetStream Log. Rejects with `SL_ERR_LOG_UNAVAILABLE` when no server answers
 * within `timeout` or the server runs without JetStream; once open it reconnects by itself.
 * Usually reached through `createLog('nats://127.0.0.1:4222')`.
 *
 * @example
 * ```ts
 * const log = await openNatsLog({ type: 'nats', url: 'nats://127.0.0.1:4222', retention: { maxCount: 1000, maxAge: 86_400_000 } });
 * const { offset, epoch } = await log.append('room:lobby', '{"text":"hi"}', { key: 'alice:m1' });
 * const { entries } = await log.read('room:lobby', offset - 1, { epoch });
 * ```
 */
export async function openNatsLog(options: NatsLogOptions): Promise<Log> {
  const timeout = options.timeout ?? 2000;
  const retention = normalizeRetention(options.retention);
  if (typeof options.url !== 'string' || !options.url) {
    throw new StatelineError('SL_ERR_INVALID_OPTION', 'nats log needs a url such as nats://127.0.0.1:4222');
  }
  const replicas = options.replicas ?? 1;
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > 5) {
    throw new StatelineError(
      'SL_ERR_INVALID_OPTION',
      `nats log replicas must be an integer from 1 to 5 (got ${options.replicas})`,
    );
  }
  const storage = options.storage ?? 'file';
  if (storage !== 'file' && storage !== 'memory') {
    throw new StatelineError(
      'SL_ERR_INVALID_OPTION',
      `nats log storage must be "file" or "memory" (got ${JSON.stringify(options.storage)})`,
    );
  }
  if (retention.maxAge !== null && retention.maxAge < 100) {
    throw new StatelineError(
      'SL_ERR_INVALID_OPTION',
      'nats log retention.maxAge must be at least 100 ms (a JetStream limit)',
    );
  }
  const [jsMod, transport] = await Promise.all([
    loadPeer<JetStreamModule>('@nats-io/jetstream', 'the nats log'),
    loadPeer<TransportModule>('@nats-io/transport-node', 'the nats log'),
  ]);
  const link = await connectNats(options.url, {
    code: 'SL_ERR_LOG_UNAVAILABLE',
    label: 'nats log',
    timeout,
    logger: options.logger,
  });
  let jsm: JetStreamManager;
  try {
    jsm = await jsMod.jetstreamManager(link.nc, { timeout });
  } catch (cause) {
    await link.close();
    throw new StatelineError(
      'SL_ERR_LOG_UNAVAILABLE',
      `nats log: the server has no JetStream (start nats-server with -js): ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
  }
  return new NatsLog(
    link,
    jsMod.jetstream(link.nc, { timeout }),
    jsm,
    transport.headers,
    options.prefix ?? 'sl:',
    { ...retention, replicas, storage },
    new CallGuard('SL_ERR_LOG_UNAVAILABLE', 'nats log', timeout),
  );
}
