import type { Workload, WorkloadAnswer, WorkloadHttp, WorkloadUser } from 'stateline/instance';
import { DEFAULT_DEMO_PASSWORD } from './config.js';
import { DROPS } from './drop.js';
import { SL_ERR_LIST_FULL, SL_ERR_SOLD_OUT } from './errors.js';
import { workload as shopWorkload } from './workload.js';

/** The drop the users buy from, and the list they edit. */
const DROP = DROPS[0]!;
const LIST = 'shared';
/** One user buys at most once in this long, so the stock lasts into the kill (at a third of a run). */
const BUY_EVERY_MS = 2000;

/** An acknowledged change of the list: which item, and the list's version it made. */
export interface Edit {
  op: 'add' | 'toggle' | 'remove';
  item: number;
  version: number;
}

/** What one user of the entities workload remembers. */
export interface Editor {
  name: string;
  loggedIn: boolean;
  /** Units acknowledged to this user (201), by Idempotency-Key. */
  units: Map<string, number>;
  soldOut: boolean;
  nextBuyAt: number;
  edits: Edit[];
  /** Items this user asked to remove, answered or not (they may be gone). */
  removing: Set<number>;
  /** Item ids from the user's last look at the list. */
  items: number[];
  /** The list answered "full" to this user's last add: it removes before it adds again. */
  full: boolean;
  /** Per entity: the instance that answered last, and since when calls have been failing. */
  owners: Map<string, { owner: string | null; failingSince: number | null }>;
}

const field = (body: unknown, name: string): unknown =>
  typeof body === 'object' && body !== null && name in body
    ? Object.getOwnPropertyDescriptor(body, name)?.value
    : undefined;

const dropPath = `/api/drop/${encodeURIComponent(DROP.sku)}`;
const listPath = `/api/lists/${LIST}`;

/**
 * Follows one entity's owner through the answers: a success named by an instance other than the
 * last one is a takeover, timed from the first call that failed since the last success (or from
 * this call's start) to now.
 */
function observe(
  user: WorkloadUser,
  s: Editor,
  entity: string,
  started: number,
  answer: WorkloadAnswer | null,
  uncertain = false,
): void {
  const track = s.owners.get(entity) ?? { owner: null, failingSince: null };
  s.owners.set(entity, track);
  if (!answer || answer.status >= 500) {
    track.failingSince ??= started;
    return;
  }
  if (uncertain) track.failingSince ??= started;
  const owner = field(answer.body, 'owner') ?? field(field(answer.body, 'drop'), 'owner');
  const listOwner = field(field(answer.body, 'list'), 'owner');
  const named = typeof owner === 'string' ? owner : typeof listOwner === 'string' ? listOwner : null;
  if (named === null) return;
  if (track.owner !== null && named !== track.owner)
    user.report.timing('takeover', performance.now() - (track.failingSince ?? started));
  track.owner = named;
  track.failingSince = null;
}

async function login(user: WorkloadUser, s: Editor): Promise<boolean> {
  const a = await user.http.request('POST', '/api/login', {
    json: { username: s.name, password: DEFAULT_DEMO_PASSWORD },
  });
  if (a?.status === 200) return (s.loggedIn = true);
  if (a?.status === 429) user.report.retry();
  else if (a && a.status < 500) user.report.unexpected(a, 'login');
  await user.sleep(200);
  return false;
}

/** A 401 on an entity route: the session went (counted) and the user logs in again. */
function refused(user: WorkloadUser, s: Editor, a: WorkloadAnswer, what: string): void {
  if (a.status === 401) {
    user.report.sessionLost('unauthenticated');
    s.loggedIn = false;
  } else user.report.unexpected(a, what);
}

async function buy(user: WorkloadUser, s: Editor): Promise<void> {
  if (s.soldOut || performance.now() < s.nextBuyAt) return viewDrop(user, s);
  s.nextBuyAt = performance.now() + BUY_EVERY_MS + user.random.int(0, 500);
  const started = performance.now();
  const { key, answer: a, uncertain } = await user.http.idempotent('POST', `${dropPath}/buy`, { json: {} });
  observe(user, s, 'drop', started, a, uncertain);
  if (!a) return;
  if (a.status === 201) {
    const unit = field(a.body, 'unit');
    const order = field(field(a.body, 'order'), 'id');
    if (typeof unit !== 'number' || typeof order !== 'string')
      return user.report.unexpected(a, 'purchase without unit or order');
    user.report.acknowledged();
    user.report.count('drop.purchases');
    user.report.created(key, order);
    s.units.set(key, unit);
    return;
  }
  if (a.status === 409 && a.code === SL_ERR_SOLD_OUT.code) {
    s.soldOut = true;
    return;
  }
  refused(user, s, a, 'buy');
}

async function viewDrop(user: WorkloadUser, s: Editor): Promise<void> {
  const started = performance.now();
  const a = await user.http.request('GET', dropPath);
  observe(user, s, 'drop', started, a);
  if (!a || a.status >= 500) return;
  if (a.status !== 200) return user.report.unexpected(a, 'drop');
  if (field(field(a.body, 'drop'), 'soldOut') === true) s.soldOut = true;
}

async function viewList(user: WorkloadUser, s: Editor): Promise<void> {
  const started = performance.now();
  const a = await user.http.request('GET', listPath);
  observe(user, s, 'list', started, a);
  if (!a || a.status >= 500) return;
  if (a.status !== 200) return refused(user, s, a, 'list');
  const list = field(a.body, 'list');
  const items = field(list, 'items');
  if (Array.isArray(items))
    s.items = items.map((i: unknown) => field(i, 'id')).filter((id): id is number => typeof id === 'number');
  // The owner's copy is the only one: a version behind an answered change means changes were lost.
  const version = field(list, 'version');
  user.report.checked();
  const mine = s.edits.reduce((v, e) => Math.max(v, e.version), 0);
  if (typeof version === 'number' && version < mine) user.report.lostUpdate();
}

async function edit(
  user: WorkloadUser,
  s: Editor,
  op: Edit['op'],
  path: string,
  method: string,
  json?: unknown,
): Promise<void> {
  const started = performance.now();
  const { answer: a, uncertain } = await user.http.idempotent(
    method,
    path,
    json === undefined ? {} : { json },
  );
  observe(user, s, 'list', started, a, uncertain);
  if (!a || a.status >= 500) return;
  // Someone else removed the item first, or filled the list: fair answers in a shared list.
  if (a.status === 404 && op !== 'add') return;
  if (a.status === 409 && a.code === SL_ERR_LIST_FULL.code) return void (s.full = true);
  if (a.status !== 200 && a.status !== 201) return refused(user, s, a, op);
  const version = field(a.body, 'version');
  const item = op === 'add' ? field(field(a.body, 'item'), 'id') : Number(path.split('/')[5]);
  if (typeof version !== 'number' || typeof item !== 'number')
    return user.report.unexpected(a, `${op} without version or item`);
  user.report.acknowledged();
  user.report.count('list.edits');
  s.edits.push({ op, item, version });
  if (op === 'add') s.items.push(item);
}

const itemPath = (id: number) => `${listPath}/items/${id}`;

/** Removes an item the user last saw (looks at the list first when it knows none). */
async function removeOne(user: WorkloadUser, s: Editor): Promise<void> {
  if (s.items.length === 0) return viewList(user, s);
  const id = user.random.pick(s.items);
  s.removing.add(id);
  s.items = s.items.filter((x) => x !== id);
  s.full = false;
  await edit(user, s, 'remove', itemPath(id), 'DELETE');
}

/**
 * The lab's `entities` workload (`stateline lab --configs entities`): every user logs in as
 * `user<i>`, buys the limited drop (at most once every 2 s, each purchase an idempotent request)
 * and edits the shared list `shared` with everyone else (add, toggle, remove, view), while the
 * lab kills the drop's owner (`victim`). It reports acknowledged purchases and edits, the orders
 * it was answered with (the lab's audit counts missing and duplicate ones), and `takeover`: how
 * long a user waited from the first failed call of an entity to the answer of its new owner.
 * After the load `verify` counts `drop.oversold` (units beyond the stock, or one unit answered to
 * two purchases), `drop.purchasesLost` (acknowledged units the drop no longer holds),
 * `list.editsLost` (acknowledged edits the list's version or items no longer hold, or two edits
 * answered with the same version) and their sum, `acknowledgedLost`.
 *
 * @example
 * ```ts
 * import { workloads } from '@stateline/shop/server';
 * workloads.entities.actions.map((a) => a.name); // ['buy', 'view-drop', 'add-item', …]
 * ```
 */
export const entityWorkload: Workload<Editor> = {
  env: shopWorkload.env!,
  init: (user) => ({
    name: `user${user.n}`,
    loggedIn: false,
    units: new Map(),
    soldOut: false,
    nextBuyAt: 0,
    edits: [],
    removing: new Set(),
    items: [],
    full: false,
    owners: new Map(),
  }),
  prepare: async (user, s) => s.loggedIn || (await login(user, s)),
  actions: [
    { name: 'buy', weight: 3, run: buy },
    { name: 'view-drop', weight: 1, run: viewDrop },
    {
      name: 'add-item',
      weight: 4,
      run: (user, s) =>
        s.full
          ? removeOne(user, s)
          : edit(user, s, 'add', `${listPath}/items`, 'POST', {
              text: `${s.name} ${user.random.hex128().slice(0, 6)}`,
            }),
    },
    {
      name: 'toggle-item',
      weight: 2,
      async run(user, s) {
        if (s.items.length === 0) return viewList(user, s);
        await edit(user, s, 'toggle', `${itemPath(user.random.pick(s.items))}/toggle`, 'POST');
      },
    },
    { name: 'remove-item', weight: 1, run: removeOne },
    { name: 'view-list', weight: 2, run: viewList },
  ],
  audit: shopWorkload.audit!,
  async victim({ http }) {
    const a = await http.request('GET', dropPath);
    const owner = field(field(a?.body, 'drop'), 'owner');
    return typeof owner === 'string' ? owner : null;
  },
  async verify({ http, states }) {
    const drop = await verifyDrop(http, states);
    const list = await verifyList(http, states);
    return { ...drop, ...list, acknowledgedLost: drop['drop.purchasesLost']! + list['list.editsLost']! };
  },
};

async function verifyDrop(http: WorkloadHttp, states: readonly Editor[]): Promise<Record<string, number>> {
  const a = await http.request('GET', dropPath);
  const sold = field(field(a?.body, 'drop'), 'sold');
  if (a?.status !== 200 || typeof sold !== 'number') throw new Error('the drop could not be read');
  const units = states.flatMap((s) => [...s.units.values()]);
  const distinct = new Set(units);
  const oversold =
    Math.max(0, sold - DROP.stock) +
    (units.length - distinct.size) +
    [...distinct].filter((u) => u > DROP.stock).length;
  return {
    'drop.sold': sold,
    'drop.oversold': oversold,
    'drop.purchasesLost': [...distinct].filter((u) => u > sold).length,
  };
}

async function verifyList(http: WorkloadHttp, states: readonly Editor[]): Promise<Record<string, number>> {
  const login = await http.request('POST', '/api/login', {
    json: { username: 'user1', password: DEFAULT_DEMO_PASSWORD },
  });
  if (login?.status !== 200) throw new Error('could not log in to read the list');
  const a = await http.request('GET', listPath);
  const list = field(a?.body, 'list');
  const version = field(list, 'version');
  const items = field(list, 'items');
  if (a?.status !== 200 || typeof version !== 'number' || !Array.isArray(items))
    throw new Error('the list could not be read');
  const present = new Set(items.map((i: unknown) => field(i, 'id')));
  const edits = states.flatMap((s) => s.edits);
  const removing = new Set(states.flatMap((s) => [...s.removing]));
  const versions = new Set(edits.map((e) => e.version));
  const lost =
    edits.filter((e) => e.version > version).length +
    (edits.length - versions.size) +
    edits.filter((e) => e.op === 'add' && !present.has(e.item) && !removing.has(e.item)).length;
  return { 'list.editsLost': lost };
}
