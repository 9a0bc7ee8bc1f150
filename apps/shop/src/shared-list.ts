import type { ServerResponse } from 'node:http';
import { defineEntity, type Entities } from 'stateline/entities';
import { SL_ERR_BAD_REQUEST, SL_ERR_NOT_FOUND } from 'stateline/http';
import { requireUser } from './auth-routes.js';
import { readJson } from './body.js';
import type { SessionRequest } from './context.js';
import { rejection } from './drop.js';
import { entityFailure, idempotencyKeyOf, scopedKey } from './entity-calls.js';
import { SL_ERR_LIST_FULL } from './errors.js';
import { fail } from './http-error.js';
import { sendJson } from './respond.js';
import type { Params } from './router.js';

/** Most items one list holds, and the longest text of one. */
export const MAX_ITEMS = 200;
export const MAX_TEXT = 200;
/** A list id: what `/api/lists/:id` and the realtime room `list:<id>` accept. */
export const LIST_ID = /^[a-z0-9][a-z0-9-]{0,39}$/;

/** One line of a shared list. */
export interface ListItem {
  /** Given by the list, 1, 2, 3…, never reused. */
  id: number;
  text: string;
  done: boolean;
  /** Who added it. */
  by: string;
}

/** The list entity's state. */
export interface ListState {
  items: ListItem[];
  next: number;
  /** Counts every change; each answer and event carries the version it made. */
  version: number;
}

/** What the list entity emits after each change (and what its realtime room carries). */
export type ListEvent =
  | { kind: 'list'; list: string; op: 'add' | 'toggle'; item: ListItem; version: number }
  | { kind: 'list'; list: string; op: 'remove'; id: number; version: number };

/** What a change answers: the version it made, the instance that made it, and the item. */
export interface ListChange {
  version: number;
  owner: string;
  item: ListItem | null;
}

/**
 * The shared-list entity, one per list id: `add`, `toggle` and `remove` change it one at a time
 * (no compare-and-set, no retry: its owner is the only writer), `view` reads it.
 *
 * @example
 * ```ts
 * const List = listEntity('i1');
 * await entities.call('list', 'shared', 'add', { text: 'milk', by: 'alice' });
 * ```
 */
export function listEntity(instance: string) {
  const find = (state: ListState, id: number) => state.items.find((i) => i.id === id);
  return defineEntity<ListState>('list', {
    initial: () => ({ items: [], next: 1, version: 0 }),
    handlers: {
      add(state, args: { text: string; by: string }, ctx): ListChange {
        if (state.items.length >= MAX_ITEMS) throw ctx.reject('LIST_FULL', `at most ${MAX_ITEMS} items`);
        const item: ListItem = { id: state.next++, text: args.text, done: false, by: args.by };
        state.items.push(item);
        state.version++;
        ctx.emit({
          kind: 'list',
          list: ctx.key,
          op: 'add',
          item,
          version: state.version,
        } satisfies ListEvent);
        return { version: state.version, owner: instance, item };
      },
      toggle(state, args: { id: number }, ctx): ListChange {
        const item = find(state, args.id);
        if (!item) throw ctx.reject('NO_ITEM', `no item ${args.id}`);
        item.done = !item.done;
        state.version++;
        ctx.emit({
          kind: 'list',
          list: ctx.key,
          op: 'toggle',
          item: { ...item },
          version: state.version,
        } satisfies ListEvent);
        return { version: state.version, owner: instance, item: { ...item } };
      },
      remove(state, args: { id: number }, ctx): ListChange {
        const at = state.items.findIndex((i) => i.id === args.id);
        if (at === -1) throw ctx.reject('NO_ITEM', `no item ${args.id}`);
        state.items.splice(at, 1);
        state.version++;
        ctx.emit({
          kind: 'list',
          list: ctx.key,
          op: 'remove',
          id: args.id,
          version: state.version,
        } satisfies ListEvent);
        return { version: state.version, owner: instance, item: null };
      },
      view: {
        read: true,
        run: (state) => ({
          items: state.items.map((i) => ({ ...i })),
          version: state.version,
          owner: instance,
        }),
      },
    },
    snapshotEvery: 100,
  });
}

function listId(params: Params): string {
  const id = params.id ?? '';
  if (!LIST_ID.test(id)) fail(SL_ERR_NOT_FOUND, `no list ${JSON.stringify(id.slice(0, 64))}`);
  return id;
}

function itemId(params: Params): number {
  const n = Number(params.itemId);
  if (!Number.isSafeInteger(n) || n < 1)
    fail(SL_ERR_NOT_FOUND, `no item ${JSON.stringify(String(params.itemId).slice(0, 32))}`);
  return n;
}

/**
 * `GET /api/lists/:id`, `POST /api/lists/:id/items` (`{ text }`), `POST
 * /api/lists/:id/items/:itemId/toggle`, `DELETE /api/lists/:id/items/:itemId`: a list every
 * logged-in user edits, held by its entity. A change sent with an `Idempotency-Key` is applied
 * once however often it is sent.
 *
 * @example
 * ```ts
 * const lists = listRoutes(entities);
 * router.on('POST', '/api/lists/:id/items', lists.add);
 * ```
 */
export function listRoutes(entities: () => Promise<Entities>) {
  const change = async (
    req: SessionRequest,
    id: string,
    method: 'add' | 'toggle' | 'remove',
    args: Record<string, unknown>,
  ): Promise<ListChange> => {
    const userId = requireUser(req);
    const key = idempotencyKeyOf(req);
    try {
      return (await (
        await entities()
      ).call(
        'list',
        id,
        method,
        args,
        key === undefined ? {} : { idempotencyKey: scopedKey(userId, key) },
      )) as ListChange;
    } catch (err) {
      const why = rejection(err);
      if (why === 'LIST_FULL') fail(SL_ERR_LIST_FULL, `a list holds at most ${MAX_ITEMS} items`);
      if (why === 'NO_ITEM') fail(SL_ERR_NOT_FOUND, `no item ${String(args.id)} in list ${id}`);
      entityFailure(err);
    }
  };

  return {
    async get(req: SessionRequest, res: ServerResponse, params: Params): Promise<void> {
      requireUser(req);
      const id = listId(params);
      const view = await (await entities()).call('list', id, 'view', undefined).catch(entityFailure);
      sendJson(res, 200, { list: { id, ...(view as object) } });
    },

    async add(req: SessionRequest, res: ServerResponse, params: Params): Promise<void> {
      const userId = requireUser(req);
      const id = listId(params);
      const body = await readJson(req);
      const text = typeof body.text === 'string' ? body.text.trim() : '';
      if (text === '' || text.length > MAX_TEXT)
        fail(SL_ERR_BAD_REQUEST, `text must be 1 to ${MAX_TEXT} characters`);
      sendJson(res, 201, await change(req, id, 'add', { text, by: userId }));
    },

    async toggle(req: SessionRequest, res: ServerResponse, params: Params): Promise<void> {
      sendJson(res, 200, await change(req, listId(params), 'toggle', { id: itemId(params) }));
    },

    async remove(req: SessionRequest, res: ServerResponse, params: Params): Promise<void> {
      sendJson(res, 200, await change(req, listId(params), 'remove', { id: itemId(params) }));
    },
  };
}
