import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Bus } from 'stateline/bus';
import { createEntities, FORWARD_HEADER, type Entities } from 'stateline/entities';
import { StatelineError } from 'stateline/errors';
import { entityRoutes } from 'stateline/node';
import { SL_ERR_NOT_FOUND } from 'stateline/http';
import { createLog, type Log } from 'stateline/log';
import type { Hub, RoomPolicy } from 'stateline/realtime';
import type { Store } from 'stateline/store';
import { MAX_BODY_BYTES } from './body.js';
import { chatLogSpec } from './chat.js';
import type { ShopConfig } from './config.js';
import { dropEntity, findDrop } from './drop.js';
import { sendError, ShopError } from './http-error.js';
import { LIST_ID, listEntity } from './shared-list.js';

/** Where other instances send the calls they forward to this one's entities. */
export const ENTITY_PREFIX = '/entities';
/** How long a dead owner's keys wait before another instance takes them. */
const LEASE_TTL = '3s';
/** Longest wait for the entities while the instance is not listening yet. */
const START_WAIT = 5000;

/** The shop's entities: the drops and the shared lists, their realtime rooms and forwarding. */
export interface ShopEntities {
  /** The entities, once the instance listens (forwarding needs its URL). */
  get(): Promise<Entities>;
  /** Starts the entities with this instance's URL, which other instances forward calls to. */
  listening(url: string): Promise<void>;
  /**
   * The policy of the realtime rooms the entities feed (`drop:<sku>`, `list:<id>`), else null.
   * Settles once this instance receives the entity's events, so a join confirmed after it misses none.
   */
  room(name: string): Promise<RoomPolicy | null>;
  /** Answers a call another instance forwarded here (true), or leaves the request alone (false). */
  forwarded(req: IncomingMessage, res: ServerResponse): boolean;
  close(): Promise<void>;
}

/** The secret every instance of one cluster shares for forwarded calls: derived from the session keys. */
function forwardSecret(config: ShopConfig): string {
  return createHmac('sha256', config.sessionKeys[0]!)
    .update('stateline shop entity forwarding')
    .digest('base64url');
}

/** Compares a forward header with the secret in constant time. */
function sameSecret(given: string | string[] | undefined, secret: string): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(secret);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Opens the shop's entities (`drop`, `list`) on the instance's Store and a Log beside the chat's
 * history (the same spec), feeds each entity's events into its realtime room, and accepts calls
 * forwarded by the other instances under {@link ENTITY_PREFIX} (only with the cluster's secret).
 *
 * @example
 * ```ts
 * const entities = await openShopEntities({ config, store, bus, hub: () => hub });
 * instance.server.listen(…); await entities.listening(instance.url);
 * ```
 */
export async function openShopEntities(o: {
  config: ShopConfig;
  store: Store;
  bus: Bus;
  hub: () => Hub | undefined;
  onError: (err: unknown) => void;
}): Promise<ShopEntities> {
  const { config } = o;
  const log: Log = await createLog(chatLogSpec(config.storeSpec, config.busSpec));
  const secret = forwardSecret(config);
  let started: ((e: Entities) => void) | undefined;
  let entities: Entities | undefined;
  let routes: ((req: IncomingMessage, res: ServerResponse) => Promise<boolean>) | undefined;
  const ready = new Promise<Entities>((resolve) => (started = resolve));
  const fed = new Map<string, Promise<() => Promise<void>>>();

  // Every instance with a socket in the room publishes each event; the hub's keyed append keeps one.
  const feed = (type: 'drop' | 'list', key: string, room: string): Promise<unknown> => {
    const feeding = fed.get(room);
    if (feeding) return feeding;
    const off = ready.then((e) =>
      e.subscribe(type, key, (event) => {
        const version = (event as { version?: unknown }).version;
        o.hub()
          ?.publish(room, JSON.stringify(event), { from: type, id: `v${String(version)}` })
          .catch(o.onError);
      }),
    );
    off.catch((err: unknown) => {
      fed.delete(room);
      o.onError(err);
    });
    fed.set(room, off);
    return off;
  };

  const readOnly: RoomPolicy = { anonymous: false, canSend: () => false };

  return {
    get: () =>
      entities
        ? Promise.resolve(entities)
        : Promise.race([
            ready,
            new Promise<never>((_, reject) =>
              setTimeout(
                () => reject(new StatelineError('SL_ERR_ENTITY_UNAVAILABLE', 'this instance is starting')),
                START_WAIT,
              ).unref(),
            ),
          ]),

    async listening(url) {
      if (entities) return;
      const made = await createEntities({
        store: o.store,
        log,
        bus: o.bus,
        instanceId: config.instance,
        entities: [dropEntity(config.instance), listEntity(config.instance)],
        leaseTtl: LEASE_TTL,
        forward: { url: `${url}${ENTITY_PREFIX}`, secret },
        onError: o.onError,
      });
      entities = made;
      routes = entityRoutes(made, { prefix: ENTITY_PREFIX, secret, maxBodyBytes: MAX_BODY_BYTES });
      started?.(made);
    },

    async room(name) {
      const [kind, key = ''] = name.split(':', 2) as [string, string?];
      const type =
        kind === 'drop' && findDrop(key) ? 'drop' : kind === 'list' && LIST_ID.test(key) ? 'list' : null;
      if (!type) return null;
      // The join waits for the subscription: an event emitted after `joined` must find this
      // instance publishing it (a failed subscription fails the join; the client joins again).
      await feed(type, key, name);
      return readOnly;
    },

    forwarded(req, res) {
      const path = (req.url ?? '/').split('?', 1)[0]!;
      if (!path.startsWith(`${ENTITY_PREFIX}/`)) return false;
      // Only the cluster's own instances call here; to anyone else the path does not exist.
      if (!sameSecret(req.headers[FORWARD_HEADER], secret) || !routes) {
        sendError(
          res,
          new ShopError(SL_ERR_NOT_FOUND, `no route ${req.method ?? 'GET'} ${path.slice(0, 200)}`),
        );
        return true;
      }
      routes(req, res).catch((err: unknown) => {
        o.onError(err);
        sendError(res, err);
      });
      return true;
    },

    async close() {
      for (const off of fed.values()) await (await off.catch(() => async () => {}))();
      await entities?.close();
      await log.close();
    },
  };
}
