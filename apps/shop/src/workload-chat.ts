import type { WorkloadUser } from 'stateline/instance';
import { connect, type MessageFrame, type RealtimeClient } from 'stateline/realtime/client';
import { WebSocket } from 'ws';
import { CHAT_PATH, LOBBY } from './chat.js';

/**
 * One shopper's chat client in the lobby, as the lab's workload keeps it: what it was delivered
 * and which of its sends the hub confirmed.
 */
export interface ChatMember {
  client: RealtimeClient;
  /** The lobby's head when this client first joined (live only): it must see every later message. */
  joinedAt: number | null;
  /** Deliveries per message (`from` and the sender's id). */
  received: Map<string, number>;
  /** The highest offset delivered. */
  last: number;
  /** Sends the hub stored (seen back with their offset). */
  confirmed: { key: string; offset: number }[];
  /** Sends not confirmed yet. */
  pending: number;
  /** Sends refused for good (or still pending when the client was closed). */
  failed: number;
  /**
   * The client stopped for good (the hub refused its session: the session was lost, which the
   * workload counts on its own): it is owed nothing after {@link last}.
   */
  gone: boolean;
}

/** What the chat clients of a run add up to (the report's `chat.*` counters). */
export interface ChatTally {
  clients: number;
  sent: number;
  /** Confirmed messages a client that was in the lobby never got. */
  lost: number;
  /** Deliveries of a message beyond its first, per client. */
  duplicates: number;
  /** Sends never confirmed. */
  unconfirmed: number;
  /** Sends written again after a reconnect or a refusal the hub called transient. */
  resent: number;
  /** Connections opened again after the first. */
  reconnects: number;
  /** Clients that stopped for good before the end. */
  gone: number;
}

/** Longest the final check waits for the clients to catch up with the last confirmed message. */
const CATCH_UP_MS = 8000;
/** Longest a join may take (an instance cut from its store holds it); then the next prepare tries again. */
const JOIN_MS = 5000;

const keyOf = (m: MessageFrame) => `${m.from} ${m.id}`;

/**
 * Opens the user's chat client through the tool's address with the user's session cookie and
 * joins the lobby (live). Null when the tool gives no address or cookie, or the join failed (the
 * client is then closed; the next prepare tries again).
 *
 * @example
 * ```ts
 * state.chat ??= await joinChat(user);
 * ```
 */
export async function joinChat(user: WorkloadUser): Promise<ChatMember | null> {
  const cookie = user.http.cookie?.();
  const url = user.http.url?.(CHAT_PATH);
  if (!cookie || !url) return null;
  const client = connect(url.replace(/^http/, 'ws'), {
    WebSocket,
    headers: { cookie },
    minDelay: 100,
    maxDelay: 1000,
  });
  const member: ChatMember = {
    client,
    joinedAt: null,
    received: new Map(),
    last: 0,
    confirmed: [],
    pending: 0,
    failed: 0,
    gone: false,
  };
  // A frame the hub refused comes as an error too; a stopped client's error has no frame type.
  client.on('error', (e) => void (!('type' in e) && (member.gone = true)));
  client.on('message', (m) => {
    if (m.room !== LOBBY) return;
    member.received.set(keyOf(m), (member.received.get(keyOf(m)) ?? 0) + 1);
    member.last = Math.max(member.last, m.offset);
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    const joined = await Promise.race([
      client.join(LOBBY),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('join timed out')), JOIN_MS);
      }),
    ]);
    member.joinedAt = joined.offset;
    member.last = Math.max(member.last, joined.offset);
    return member;
  } catch {
    client.close();
    return null;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Sends one line to the lobby without waiting for it: the client keeps it through reconnects
 * until the hub stores it, and the member records the outcome.
 *
 * @example
 * ```ts
 * if (state.chat) say(state.chat, `hello from user${user.n}`);
 * ```
 */
export function say(member: ChatMember, text: string): void {
  member.pending++;
  member.client.send(LOBBY, text).then(
    (m) => {
      member.pending--;
      member.confirmed.push({ key: keyOf(m), offset: m.offset });
    },
    () => {
      member.pending--;
      member.failed++;
    },
  );
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * After the load: waits (bounded) until pending sends settle and every client has been delivered
 * the last confirmed offset, then counts, for every confirmed message and every client that had
 * joined before it was stored (and had not stopped for good before it), a loss when the client
 * never got it and a duplicate for each delivery beyond the first. Closes the clients.
 *
 * @example
 * ```ts
 * const t = await tallyChat(states.flatMap((s) => (s.chat ? [s.chat] : [])));
 * t.lost; // 0
 * ```
 */
export async function tallyChat(members: readonly ChatMember[]): Promise<ChatTally> {
  try {
    const deadline = Date.now() + CATCH_UP_MS;
    const head = () => Math.max(0, ...members.flatMap((m) => m.confirmed.map((c) => c.offset)));
    while (
      Date.now() < deadline &&
      members.some((m) => m.pending > 0 || (!m.gone && m.joinedAt !== null && m.last < head()))
    )
      await sleep(100);
    const tally: ChatTally = {
      clients: members.length,
      sent: 0,
      lost: 0,
      duplicates: 0,
      unconfirmed: 0,
      resent: members.reduce((n, m) => n + m.client.stats.resent, 0),
      reconnects: members.reduce((n, m) => n + m.client.stats.reconnects, 0),
      gone: members.filter((m) => m.gone).length,
    };
    const sent = members.flatMap((m) => m.confirmed);
    tally.sent = sent.length;
    tally.unconfirmed = members.reduce((n, m) => n + m.pending + m.failed, 0);
    for (const m of members)
      for (const s of sent) {
        if (m.joinedAt === null || s.offset <= m.joinedAt || (m.gone && s.offset > m.last)) continue;
        const got = m.received.get(s.key) ?? 0;
        if (got === 0) tally.lost++;
        else tally.duplicates += got - 1;
      }
    return tally;
  } finally {
    for (const m of members) m.client.close();
  }
}
