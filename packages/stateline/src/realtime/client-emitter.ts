import type { ClientEvents } from './client-types.js';

/**
 * The client's typed events. A listener that throws is reported like an event listener's error
 * (rethrown on a timer) without breaking delivery to the others.
 *
 * @example
 * ```ts
 * const events = new ClientEmitter();
 * const off = events.on('open', (e) => console.log(e.url));
 * events.emit('open', { url: 'ws://127.0.0.1:3000/realtime' });
 * ```
 */
export class ClientEmitter {
  private readonly listeners = new Map<keyof ClientEvents, Set<(e: never) => void>>();

  /** Listens to an event; returns a function that stops listening. */
  on<K extends keyof ClientEvents>(type: K, listener: (e: ClientEvents[K]) => void): () => void {
    let set = this.listeners.get(type);
    if (!set) this.listeners.set(type, (set = new Set()));
    set.add(listener as (e: never) => void);
    return () => void set.delete(listener as (e: never) => void);
  }

  emit<K extends keyof ClientEvents>(type: K, e: ClientEvents[K]): void {
    for (const l of [...(this.listeners.get(type) ?? [])]) {
      try {
        (l as (e: ClientEvents[K]) => void)(e);
      } catch (err) {
        setTimeout(() => {
          throw err; // reported like an event listener's error, without breaking delivery
        }, 0);
      }
    }
  }
}
