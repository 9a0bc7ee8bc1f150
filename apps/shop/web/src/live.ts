import { connect, type RealtimeClient } from 'stateline/realtime/client';

/** What a live room tells the view that watches it. */
export interface LiveHandlers {
  /** A message of the room, parsed from JSON (anything else is skipped). */
  event(event: unknown): void;
  /** Joined (again): what happened while away is not in the stream, so read the state again. */
  joined(): void;
  /** The connection's state, for the view to show. */
  status(status: 'connecting' | 'live' | 'reconnecting' | 'closed'): void;
}

/**
 * Watches a read-only room the server feeds (a drop's `drop:<sku>`, a list's `list:<id>`) on its
 * own WebSocket at `/ws`, live only: after each (re)join the view reads the state from the API
 * and applies the events newer than it. Returns the stop function.
 *
 * @example
 * ```ts
 * const stop = watchRoom('drop:aurora-lamp', { event: apply, joined: reload, status: show });
 * ```
 */
export function watchRoom(room: string, on: LiveHandlers): () => void {
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
  const client: RealtimeClient = connect(url);
  let stopped = false;
  on.status('connecting');
  client.on('close', (e) => {
    if (!stopped) on.status(e.reconnectIn === null ? 'closed' : 'reconnecting');
  });
  client.on('message', (m) => {
    if (m.room !== room) return;
    try {
      on.event(JSON.parse(m.text) as unknown);
    } catch {
      /* not an event of ours */
    }
  });
  // `joined` comes on the first join and on every rejoin after a reconnect.
  client.on('joined', (j) => {
    if (j.room !== room) return;
    on.status('live');
    on.joined();
  });
  client.join(room).catch(() => on.status('closed'));
  return () => {
    stopped = true;
    client.close();
  };
}
