import type { IncomingMessage, ServerResponse } from 'node:http';
import { defineEntity, EntityRejectedError, type Entities, type EntityContext } from 'stateline/entities';
import { SL_ERR_NOT_FOUND } from 'stateline/http';
import { requireUser } from './auth-routes.js';
import type { SessionRequest, ShopContext } from './context.js';
import { entityFailure, idempotencyKeyOf, scopedKey } from './entity-calls.js';
import { SL_ERR_SOLD_OUT } from './errors.js';
import { fail } from './http-error.js';
import { recordOrder } from './orders.js';
import { sendJson } from './respond.js';
import type { Params } from './router.js';

/** A limited-stock product: sold only through its drop entity, never through the cart. */
export interface Drop {
  sku: string;
  name: string;
  description: string;
  /** Integer cents. */
  price: number;
  /** Units there are, in all. */
  stock: number;
}

/** The drops on sale. */
export const DROPS: readonly Drop[] = [
  {
    sku: 'aurora-lamp',
    name: 'Aurora lamp (limited drop)',
    description: 'One hundred numbered lamps; one owner decides who gets each.',
    price: 12900,
    stock: 100,
  },
];

/**
 * The drop by sku, or undefined.
 *
 * @example
 * ```ts
 * findDrop('aurora-lamp')?.stock; // 100
 * ```
 */
export function findDrop(sku: string): Drop | undefined {
  return DROPS.find((d) => d.sku === sku);
}

/** One unit sold: who bought it, under which Idempotency-Key. Units are numbered 1…stock in order. */
export interface Sale {
  userId: string;
  key: string;
  unit: number;
}

/** The drop entity's state: what was sold, and a version that counts every change. */
export interface DropState {
  sold: Sale[];
  version: number;
}

/** What the drop entity emits after each sale (and what its realtime room carries). */
export interface DropEvent {
  kind: 'drop';
  sku: string;
  left: number;
  sold: number;
  version: number;
}

/** A drop as the API shows it. */
export interface DropView extends Drop {
  left: number;
  sold: number;
  soldOut: boolean;
  version: number;
  /** The instance that holds the drop's state now (it answered the read). */
  owner: string;
}

const stockOf = (ctx: EntityContext) => findDrop(ctx.key)?.stock ?? 0;

/**
 * The drop entity: one per sku, its state the truth about what was sold. `buy` sells the next
 * unit or refuses with `SOLD_OUT`; `view` reads (no Log append) and names the owner, which is
 * why the definition is made per instance.
 *
 * @example
 * ```ts
 * const Drop = dropEntity('i1');
 * await entities.call('drop', 'aurora-lamp', 'buy', { userId: 'alice' }, { idempotencyKey: 'alice:k1' });
 * ```
 */
export function dropEntity(instance: string) {
  return defineEntity<DropState>('drop', {
    initial: () => ({ sold: [], version: 0 }),
    handlers: {
      buy(state, args: { userId: string; key: string }, ctx) {
        const stock = stockOf(ctx);
        if (state.sold.length >= stock) throw ctx.reject('SOLD_OUT', `all ${stock} units are sold`);
        const unit = state.sold.length + 1;
        state.sold.push({ userId: args.userId, key: args.key, unit });
        state.version++;
        const left = stock - state.sold.length;
        const event: DropEvent = { kind: 'drop', sku: ctx.key, left, sold: unit, version: state.version };
        ctx.emit(event);
        return { unit, left, owner: instance };
      },
      view: {
        read: true,
        run: (state, _args: undefined, ctx) => ({
          left: stockOf(ctx) - state.sold.length,
          sold: state.sold.length,
          version: state.version,
          owner: instance,
        }),
      },
      /** Every unit, its buyer and the key it was bought under, for an audit. */
      sales: { read: true, run: (state) => state.sold.map((s) => ({ ...s })) },
    },
    snapshotEvery: 50,
  });
}

/** The app-level refusal code of an entity's `ctx.reject`, or undefined for any other error. */
export function rejection(err: unknown): string | undefined {
  return err instanceof EntityRejectedError ? err.reason : undefined;
}

function knownDrop(sku: string | undefined): Drop {
  const drop = sku === undefined ? undefined : findDrop(sku);
  if (!drop) fail(SL_ERR_NOT_FOUND, `no drop ${JSON.stringify(String(sku).slice(0, 64))}`);
  return drop;
}

/**
 * `GET /api/drops`, `GET /api/drop/:sku` (units left, live from the entity's owner) and
 * `POST /api/drop/:sku/buy` (logged in, `Idempotency-Key` required). A purchase is a call to the
 * drop's entity; once it acknowledged a unit the order is written under (user, key) with
 * insert-if-absent, so a retry with the same key gets the same unit and the same order.
 *
 * @example
 * ```ts
 * const drops = dropRoutes(ctx, entities);
 * router.on('POST', '/api/drop/:sku/buy', drops.buy);
 * ```
 */
export function dropRoutes(ctx: ShopContext, entities: () => Promise<Entities>) {
  const view = async (drop: Drop): Promise<DropView> => {
    const v = (await (
      await entities()
    )
      .call('drop', drop.sku, 'view', undefined)
      .catch(entityFailure)) as Omit<DropView, keyof Drop | 'soldOut'>;
    return { ...drop, ...v, soldOut: v.left <= 0 };
  };

  return {
    async list(_req: IncomingMessage, res: ServerResponse): Promise<void> {
      sendJson(res, 200, { drops: await Promise.all(DROPS.map(view)) });
    },

    async get(_req: IncomingMessage, res: ServerResponse, params: Params): Promise<void> {
      sendJson(res, 200, { drop: await view(knownDrop(params.sku)) });
    },

    async buy(req: SessionRequest, res: ServerResponse, params: Params): Promise<void> {
      const userId = requireUser(req);
      const drop = knownDrop(params.sku);
      const key = idempotencyKeyOf(req);
      if (key === undefined)
        fail('SL_ERR_IDEMPOTENCY_KEY_MISSING', 'send an Idempotency-Key with a purchase');
      let sold: { unit: number; left: number; owner: string };
      try {
        sold = (await (
          await entities()
        ).call(
          'drop',
          drop.sku,
          'buy',
          { userId, key },
          { idempotencyKey: scopedKey(userId, key) },
        )) as typeof sold;
      } catch (err) {
        if (rejection(err) === 'SOLD_OUT')
          fail(SL_ERR_SOLD_OUT, `all ${drop.stock} units of ${drop.sku} are sold`);
        entityFailure(err);
      }
      const order = await recordOrder(ctx.store, userId, key, () => [
        { productId: drop.sku, qty: 1, price: drop.price },
      ]);
      sendJson(res, 201, { order, ...sold });
    },
  };
}
