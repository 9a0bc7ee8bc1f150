import { connect, type MessageFrame, type RealtimeClient } from 'stateline/realtime/client';

/** The chat's room and how many messages the page keeps. */
export const LOBBY = 'lobby';
const KEEP = 200;

export type ChatStatus = 'off' | 'connecting' | 'connected' | 'reconnecting' | 'closed';

export interface ChatState {
  status: ChatStatus;
  /** Who is in the lobby, on any instance. */
  members: string[];
  messages: MessageFrame[];
  /** The last refusal or close reason, for the user. */
  problem: string | null;
}

let client: RealtimeClient | null = null;
let state: ChatState = { status: 'off', members: [], messages: [], problem: null };
const listeners = new Set<(s: ChatState) => void>();

function set(patch: Partial<ChatState>): void {
  state = { ...state, ...patch };
  for (const fn of listeners) fn(state);
}

/**
 * Calls `fn` now and on every change of the chat; returns the unsubscribe.
 *
 * @example
 * ```ts
 * const off = onChat((s) => render(s.messages, s.members));
 * ```
 */
export function onChat(fn: (s: ChatState) => void): () => void {
  listeners.add(fn);
  fn(state);
  return () => listeners.delete(fn);
}

/**
 * Connects to the hub at `/ws` (through the gateway, so to any instance; the cookie
 * authenticates it) and joins the lobby with its retained history. The client reconnects by
 * itself and resumes from the last message it showed. Does nothing when already started.
 *
 * @example
 * ```ts
 * startChat();
 * ```
 */
export function startChat(): void {
  if (client) return;
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
  const c = connect(url);
  client = c;
  set({ status: 'connecting', members: [], messages: [], problem: null });
  c.on('open', () => set({ status: 'connected', problem: null }));
  c.on('close', (e) => {
    if (client !== c) return;
    if (e.reconnectIn === null) set({ status: 'closed', problem: closeReason(e.code, e.reason) });
    else set({ status: 'reconnecting' });
  });
  c.on('message', (m) => {
    if (m.room !== LOBBY) return;
    set({ messages: [...state.messages, m].slice(-KEEP) });
  });
  c.on('presence', (p) => {
    if (p.room === LOBBY) set({ members: p.members });
  });
  c.on('error', (e) => set({ problem: e.message }));
  c.join(LOBBY, { since: 0 }).catch((err: unknown) =>
    set({ problem: err instanceof Error ? err.message : 'could not join the lobby' }),
  );
}

/**
 * Closes the connection (on logout: the socket belongs to the session).
 *
 * @example
 * ```ts
 * stopChat();
 * ```
 */
export function stopChat(): void {
  const c = client;
  client = null;
  c?.close();
  set({ status: 'off', members: [], messages: [], problem: null });
}

/**
 * Sends a message to the lobby; resolves once the hub stored it.
 *
 * @example
 * ```ts
 * await sendChat('hello');
 * ```
 */
export async function sendChat(text: string): Promise<void> {
  if (!client) throw new Error('the chat is not connected');
  await client.send(LOBBY, text);
}

function closeReason(code: number, reason: string): string {
  if (code === 4401) return 'Log in to use the chat.';
  return reason ? `The chat connection closed: ${reason}` : `The chat connection closed (${code}).`;
}
