import type { Bus } from '../bus/types.js';
import { StatelineError, isStatelineError } from '../errors.js';
import { parseDuration } from '../internal/duration.js';
import { NotOwnerError } from './errors.js';
import { OwnerMovedError, OwnerUnreachableError, forwardCall } from './forward.js';
import { Leases } from './lease.js';
import { EntityOwner, entityNames, type OwnerDeps } from './owner.js';
import type { CallOptions, EntitiesOptions, EntityDefinition, LeaseRecord } from './types.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** Pause before asking again when the owner moved or cannot be reached. */
const RETRY_MS = 50;

function unknown(detail: string): StatelineError {
  return new StatelineError('SL_ERR_ENTITY_UNKNOWN', detail);
}

/**
 * The entities of one instance: routes each call to the key's owner (this instance, taking the
 * lease when it is free, or another one over HTTP), keeps the owned keys' leases alive, and
 * retires keys that went idle. Made by {@link createEntities}.
 *
 * @example
 * ```ts
 * const entities: Entities = await createEntities({ store, log, instanceId: 'i1', entities: [Drop] });
 * ```
 */
export class Entities {
  private readonly defs = new Map<string, EntityDefinition>();
  private readonly owners = new Map<string, EntityOwner>();
  private readonly claiming = new Map<string, Promise<EntityOwner | LeaseRecord>>();
  private readonly leases: Leases;
  private readonly deps: OwnerDeps;
  private readonly leaseTtl: number;
  private readonly callTimeout: number;
  private readonly idleAfter: number;
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly options: EntitiesOptions) {
    for (const d of options.entities as EntityDefinition[]) {
      if (this.defs.has(d.type))
        throw new StatelineError('SL_ERR_INVALID_OPTION', `entity type "${d.type}" is defined twice`);
      this.defs.set(d.type, d);
    }
    if (!options.instanceId) throw new StatelineError('SL_ERR_INVALID_OPTION', 'entities need an instanceId');
    this.leaseTtl = parseDuration(options.leaseTtl ?? '3s', 'leaseTtl');
    this.callTimeout = parseDuration(options.callTimeout ?? '5s', 'callTimeout');
    this.idleAfter = parseDuration(options.idleAfter ?? '30s', 'idleAfter');
    if (this.leaseTtl < 100)
      throw new StatelineError('SL_ERR_INVALID_OPTION', 'leaseTtl must be at least 100 ms');
    const mailboxLimit = options.mailboxLimit ?? 1000;
    const dedupWindow = options.dedupWindow ?? 10_000;
    for (const [name, v] of [
      ['mailboxLimit', mailboxLimit],
      ['dedupWindow', dedupWindow],
    ] as const)
      if (!Number.isInteger(v) || v <= 0)
        throw new StatelineError('SL_ERR_INVALID_OPTION', `${name} must be a positive integer`);
    this.leases = new Leases(options.store, options.instanceId, options.forward?.url ?? null, this.leaseTtl);
    this.deps = {
      store: options.store,
      log: options.log,
      bus: options.bus,
      leases: this.leases,
      mailboxLimit,
      dedupWindow,
      onError: options.onError ?? (() => {}),
      onGone: (o) => {
        if (this.owners.get(o.names.id) === o) this.owners.delete(o.names.id);
      },
    };
    this.timer = setInterval(() => this.tick(), Math.max(50, Math.floor(this.leaseTtl / 3)));
    this.timer.unref();
  }

  /** Renews every held lease; retires keys idle for `idleAfter`. */
  private tick(): void {
    const now = Date.now();
    for (const o of this.owners.values()) {
      if (o.idle && now - o.lastUsed >= this.idleAfter) void o.retire().catch(this.deps.onError);
      else void o.renew();
    }
  }

  /**
   * The keys this instance owns now, as `type:key`.
   *
   * @example
   * ```ts
   * console.log(entities.owned()); // ['drop:sku-1']
   * ```
   */
  owned(): string[] {
    return [...this.owners.keys()];
  }

  /**
   * Calls `method` on the entity `type`/`key` wherever its owner is, and resolves with the
   * handler's result once the change is in the Log.
   *
   * @example
   * ```ts
   * const { left } = await entities.call('drop', 'sku-1', 'buy', { userId: 'u1' }, { idempotencyKey: 'order-81' });
   * ```
   */
  async call(
    type: string,
    key: string,
    method: string,
    args?: unknown,
    options: CallOptions = {},
  ): Promise<unknown> {
    if (this.closed) throw new StatelineError('SL_ERR_CLOSED', 'entities were closed');
    const def = this.defs.get(type);
    if (!def) throw unknown(`no entity type "${type}"`);
    if (!Object.hasOwn(def.handlers, method)) throw unknown(`entity "${type}" has no handler "${method}"`);
    if (typeof key !== 'string' || key.length === 0 || key.length > 200)
      throw new StatelineError(
        'SL_ERR_INVALID_ARGUMENT',
        'an entity key must be a string of 1-200 characters',
      );
    const k = options.idempotencyKey;
    if (k !== undefined && (typeof k !== 'string' || k.length === 0 || k.length > 200))
      throw new StatelineError(
        'SL_ERR_INVALID_ARGUMENT',
        'an idempotency key must be a string of 1-200 characters',
      );
    const deadline = Date.now() + this.callTimeout;
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new StatelineError(
              'SL_ERR_ENTITY_TIMEOUT',
              `${type}:${key}.${method} after ${this.callTimeout} ms`,
            ),
          ),
        this.callTimeout,
      );
    });
    try {
      return await Promise.race([
        this.route(def, key, method, args, k, options.noForward === true, deadline),
        expired,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async route(
    def: EntityDefinition,
    key: string,
    method: string,
    args: unknown,
    idempotencyKey: string | undefined,
    noForward: boolean,
    deadline: number,
  ): Promise<unknown> {
    const id = entityNames(def.type, key).id;
    while (Date.now() < deadline && !this.closed) {
      let here: EntityOwner | LeaseRecord;
      try {
        here = this.owners.get(id) ?? (await this.claim(def, key));
      } catch (err) {
        if (!(err instanceof NotOwnerError)) throw err;
        await sleep(RETRY_MS);
        continue;
      }
      if (here instanceof EntityOwner) {
        try {
          return await new Promise((resolve, reject) =>
            here.enqueue({ method, args, idempotencyKey, deadline, resolve, reject }),
          );
        } catch (err) {
          if (err instanceof NotOwnerError) continue;
          throw err;
        }
      }
      const fw = this.options.forward;
      if (noForward || !fw || !here.url) {
        if (!noForward && here.expiresAt - Date.now() < deadline - Date.now()) {
          await sleep(Math.min(RETRY_MS * 4, Math.max(RETRY_MS, here.expiresAt - Date.now())));
          continue;
        }
        if (noForward) throw new OwnerMovedError(`${id} is owned by ${here.owner}`);
        throw new StatelineError(
          'SL_ERR_ENTITY_UNAVAILABLE',
          `${id} is owned by ${here.owner}, which this instance cannot reach`,
        );
      }
      try {
        return await forwardCall(
          fw.fetch ?? globalThis.fetch,
          here.url,
          fw.secret,
          { type: def.type, key, method, args, idempotencyKey },
          deadline - Date.now(),
        );
      } catch (err) {
        if (err instanceof OwnerMovedError) await sleep(RETRY_MS);
        else if (err instanceof OwnerUnreachableError)
          await sleep(Math.min(RETRY_MS * 4, Math.max(RETRY_MS, here.expiresAt - Date.now())));
        else throw err;
      }
    }
    throw new StatelineError('SL_ERR_ENTITY_UNAVAILABLE', `no owner of ${id} could be reached in time`);
  }

  /** Takes the key's lease (one attempt at a time per key) and loads it, or names its owner. */
  private claim(def: EntityDefinition, key: string): Promise<EntityOwner | LeaseRecord> {
    const names = entityNames(def.type, key);
    let p = this.claiming.get(names.id);
    if (!p) {
      p = (async () => {
        const c = await this.leases.claim(names.lease).catch((err: unknown) => {
          throw isStatelineError(err) && err.code !== 'SL_ERR_STORE_UNAVAILABLE'
            ? err
            : new StatelineError('SL_ERR_ENTITY_UNAVAILABLE', `the lease of ${names.id} cannot be read`, {
                cause: err,
              });
        });
        if (!c.mine) return c.lease;
        const owner = new EntityOwner(def, key, c.epoch, c.version, c.expiresAt, this.deps);
        try {
          await owner.load();
        } catch (err) {
          owner.drop();
          if (isStatelineError(err, 'SL_ERR_LOG_FENCED')) throw new NotOwnerError(names.id);
          throw new StatelineError('SL_ERR_ENTITY_UNAVAILABLE', `${names.id} could not be rebuilt`, {
            cause: err,
          });
        }
        this.owners.set(names.id, owner);
        return owner;
      })().finally(() => this.claiming.delete(names.id));
      this.claiming.set(names.id, p);
    }
    return p;
  }

  /**
   * Receives the events the handlers of `type`/`key` emit, on whichever instance owns it. Needs a
   * Bus. Resolves with an unsubscribe.
   *
   * @example
   * ```ts
   * const off = await entities.subscribe('drop', 'sku-1', (event) => room.broadcast(event));
   * await off();
   * ```
   */
  async subscribe(
    type: string,
    key: string,
    handler: (event: unknown) => void,
  ): Promise<() => Promise<void>> {
    const bus: Bus | undefined = this.options.bus;
    if (!bus) throw new StatelineError('SL_ERR_INVALID_OPTION', 'entities need a bus to subscribe');
    return bus.subscribe(entityNames(type, key).channel, (msg) => handler(JSON.parse(msg) as unknown));
  }

  /**
   * Stops renewing, snapshots and releases every owned key (another instance takes them without
   * waiting for expiry). Does not close the Store, Log or Bus.
   *
   * @example
   * ```ts
   * process.on('SIGTERM', () => void entities.close());
   * ```
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await Promise.allSettled([...this.claiming.values()]);
    await Promise.allSettled([...this.owners.values()].map((o) => o.retire()));
  }
}

/**
 * Starts the entities of one instance.
 *
 * @example
 * ```ts
 * const entities = await createEntities({ store, log, bus, instanceId: 'i1', entities: [Drop], leaseTtl: '3s' });
 * await entities.call('drop', 'sku-1', 'buy', { userId: 'u1' });
 * ```
 */
export async function createEntities(options: EntitiesOptions): Promise<Entities> {
  return new Entities(options);
}
