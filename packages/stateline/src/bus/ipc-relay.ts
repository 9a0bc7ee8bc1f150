import type { ChildProcess } from 'node:child_process';
import { StatelineError } from '../errors.js';
import { IpcBus, isIpcBusMessage, type IpcBusMessage, type IpcSink } from './ipc-bus.js';
import type { Bus, IpcBusOptions } from './types.js';

/** The relay in a supervisor: forwards every child's `ipc:` bus traffic to the subscribed children. */
export interface IpcRelay {
  /** Starts relaying for a forked child (or `cluster` worker's `.process`); it leaves on 'exit'/'disconnect'. */
  add(child: ChildProcess): void;
  /** Stops relaying for a child (it receives nothing more). */
  remove(child: ChildProcess): void;
  /** A Bus inside the supervisor that takes part like a child. */
  bus(options?: Omit<IpcBusOptions, 'type'>): Bus;
  /** Children currently relayed for. */
  readonly size: number;
  /** Detaches from every child; buses from `bus()` report the connection lost. */
  close(): void;
}

/** One participant: its subscriptions (a count per prefixed channel, one per handler) and how to reach it. */
interface Peer {
  subs: Map<string, number>;
  deliver(ch: string, msg: string): void;
}

/**
 * Attaches an `ipc:` bus relay to this (parent) process. Delivery is at-most-once: a child that is
 * gone or not yet subscribed misses the message.
 *
 * @example
 * ```ts
 * const relay = attachIpcRelay();
 * relay.add(fork('./instance.js')); // the instance does: await createBus('ipc:')
 * await relay.bus().publish('reload', 'now');
 * ```
 */
export function attachIpcRelay(): IpcRelay {
  const peers = new Set<Peer>();
  const children = new Map<ChildProcess, () => void>();
  const local = new Set<IpcSink>();
  let closed = false;

  const publish = (ch: string, msg: string) => {
    for (const p of peers) if (p.subs.has(ch)) p.deliver(ch, msg);
  };
  const count = (p: Peer, op: 'sub' | 'unsub', ch: string) => {
    const n = (p.subs.get(ch) ?? 0) + (op === 'sub' ? 1 : -1);
    if (n > 0) p.subs.set(ch, n);
    else p.subs.delete(ch);
  };
  const send = (child: ChildProcess, m: IpcBusMessage) => {
    if (!child.connected) return; // leaving: 'disconnect' removes it
    try {
      child.send(m, undefined, undefined, () => {}); // a failed send is a missed message, never a crash
    } catch {
      /* channel closed between the check and the send */
    }
  };
  const refuse = () => new StatelineError('SL_ERR_CLOSED', 'the ipc relay was closed');

  return {
    add(child) {
      if (closed) throw refuse();
      if (children.has(child) || !child.connected) return;
      const peer: Peer = {
        subs: new Map(),
        deliver: (ch, msg) => send(child, { $sl: 'bus', op: 'msg', ch, msg }),
      };
      const onMessage = (m: unknown) => {
        if (!isIpcBusMessage(m)) return;
        if (m.op === 'pub') publish(m.ch, m.msg);
        else if (m.op === 'hello' || m.op === 'sub' || m.op === 'unsub') {
          if (m.op !== 'hello') count(peer, m.op, m.ch);
          send(child, { $sl: 'bus', op: 'ack', id: m.id });
        }
      };
      const leave = () => {
        child.off('message', onMessage);
        child.off('exit', leave);
        child.off('disconnect', leave);
        peers.delete(peer);
        children.delete(child);
      };
      child.on('message', onMessage);
      child.on('exit', leave);
      child.on('disconnect', leave);
      peers.add(peer);
      children.set(child, leave);
    },
    remove(child) {
      children.get(child)?.();
    },
    bus(options) {
      if (closed) throw refuse();
      return new IpcBus(
        (sink) => {
          const peer: Peer = {
            subs: new Map(),
            deliver: (ch, msg) => queueMicrotask(() => sink.deliver(ch, msg)),
          };
          peers.add(peer);
          local.add(sink);
          let open = true;
          const gone = () => new StatelineError('SL_ERR_BUS_UNAVAILABLE', 'ipc bus: the relay was closed');
          return {
            get connected() {
              return open && !closed;
            },
            send: async (op, ch, msg) => {
              if (!open || closed) throw gone();
              if (op === 'pub') publish(ch, msg ?? '');
              else if (op !== 'hello') count(peer, op, ch);
            },
            close: () => {
              open = false;
              peers.delete(peer);
              local.delete(sink);
            },
          };
        },
        options,
        'ipc bus (relay)',
      );
    },
    get size() {
      return children.size;
    },
    close() {
      if (closed) return;
      closed = true;
      for (const leave of [...children.values()]) leave();
      peers.clear();
      for (const sink of [...local]) sink.connection(false);
      local.clear();
    },
  };
}
