/**
 * The shop's workload (what `stateline lab` drives): first its judgement, action by action, with
 * scripted answers and no server (an add and its cart, a cart short of an acknowledged add, an
 * old copy a second look corrects, a vanished cart, the account's cart kept across a logout, a
 * logged-out session, a checkout's order and its audit); then the real shop under the lab for a
 * few seconds: the workload's users find nothing lost, nothing stale and nothing made twice.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfigs, runLab, validateReport } from '@stateline/lab';
import type {
  IdempotentAnswer,
  SessionLossReason,
  WorkloadAnswer,
  WorkloadRequestInit,
  WorkloadUser,
} from 'stateline/instance';
import type { RealtimeClient } from 'stateline/realtime/client';
import { workload } from '../src/workload.js';
import { tallyChat, type ChatMember } from '../src/workload-chat.js';
import { SHOP_APP } from './support.js';

type Reply = { status: number; body?: unknown; headers?: Record<string, string> } | null;
type Route = (init: WorkloadRequestInit) => Reply;

/** What the scripted user was told by the workload. */
interface Tally {
  sent: string[];
  lost: SessionLossReason[];
  lostUpdates: number;
  staleReads: number;
  acknowledged: number;
  checked: number;
  created: [string, string][];
  unexpected: string[];
  counted: Record<string, number>;
  timed: [string, number][];
}

/** A user whose requests are answered by `routes` (`'GET /api/cart'` → a list of replies, last one repeats). */
function scripted(routes: Record<string, Reply[] | Route>, credentials: 'cookie' | 'bearer' = 'cookie') {
  const tally: Tally = {
    sent: [],
    lost: [],
    lostUpdates: 0,
    staleReads: 0,
    acknowledged: 0,
    checked: 0,
    created: [],
    unexpected: [],
    counted: {},
    timed: [],
  };
  const answer = (method: string, path: string, init: WorkloadRequestInit = {}): WorkloadAnswer | null => {
    const route = `${method} ${path}`;
    tally.sent.push(route);
    const r = routes[route];
    const reply = typeof r === 'function' ? r(init) : r && (r.length > 1 ? r.shift()! : r[0]!);
    if (reply === undefined) throw new Error(`no reply for ${route}`);
    if (reply === null) return null;
    const body = reply.body ?? null;
    const code = typeof body === 'object' && body !== null && 'code' in body ? body.code : '';
    return {
      status: reply.status,
      headers: new Headers(reply.headers),
      body,
      code: typeof code === 'string' ? code : '',
    };
  };
  const user: WorkloadUser = {
    n: 7,
    credentials,
    stateSize: null,
    http: {
      request: async (method, path, init) => answer(method, path, init),
      idempotent: async (method, path, init): Promise<IdempotentAnswer> => ({
        key: 'k1',
        answer: answer(method, path, init),
        uncertain: false,
      }),
    },
    random: {
      next: () => 0,
      int: (_min, max) => max,
      chance: () => false,
      pick: (l) => l[0]!,
      hex128: () => 'k1',
    },
    report: {
      unexpected: (a, what) => void tally.unexpected.push(`${a.status} ${what}`),
      retry: () => {},
      sessionLost: (reason) => void tally.lost.push(reason),
      lostUpdate: () => void tally.lostUpdates++,
      staleRead: () => void tally.staleReads++,
      acknowledged: () => void tally.acknowledged++,
      checked: () => void tally.checked++,
      created: (key, id) => void tally.created.push([key, id]),
      count: (name, n = 1) => void (tally.counted[name] = (tally.counted[name] ?? 0) + n),
      timing: (name, ms) => void tally.timed.push([name, ms]),
    },
    stopped: () => false,
    think: async () => {},
    sleep: async () => {},
    async recheck(first, read, agrees) {
      let last = first;
      for (let i = 0; i < 3; i++) {
        const again = await read();
        if (again === null) break;
        if (agrees(again)) {
          tally.staleReads++;
          return null;
        }
        last = again;
      }
      return last;
    },
  };
  return { user, tally };
}

const action = (name: string) => {
  const a = workload.actions.find((x) => x.name === name);
  assert.ok(a, name);
  return a;
};
const cart = (items: [string, number][]): Reply => ({
  status: 200,
  body: { items: items.map(([productId, qty]) => ({ productId, qty })) },
});

/** A shopper logged in, with `mug` ×3 acknowledged (the add's answer showed it). */
async function withMugs(routes: Record<string, Reply[] | Route>) {
  const s = scripted({
    'POST /api/login': [{ status: 200 }],
    'GET /api/products': [{ status: 200, body: { products: [{ id: 'mug' }, { id: 'tee' }] } }],
    'POST /api/cart/items': [cart([['mug', 3]])],
    ...routes,
  });
  const state = workload.init(s.user);
  assert.equal(await workload.prepare!(s.user, state), true);
  await action('add').run(s.user, state);
  return { ...s, state };
}

describe('the shop workload, judged answer by answer', () => {
  it('logs in as user<n>, and asks the lab for that many seeded users', async () => {
    const { tally, state } = await withMugs({});
    assert.equal(state.name, 'user7');
    assert.deepEqual(tally.sent, ['POST /api/login', 'GET /api/products', 'POST /api/cart/items']);
    assert.deepEqual([tally.acknowledged, tally.checked, tally.lostUpdates], [1, 1, 0]);
    assert.deepEqual(workload.env!(12), { STATELINE_SHOP_USERS: '12', STATELINE_DEMO_PASSWORD: 'stateline' });
  });

  it('a cart short of an acknowledged add, still short on a second look: one lost update', async () => {
    const { user, tally, state } = await withMugs({ 'GET /api/cart': [cart([['mug', 1]])] });
    await action('view-cart').run(user, state);
    await action('view-cart').run(user, state);
    assert.deepEqual([tally.lostUpdates, tally.staleReads, tally.lost.length], [1, 0, 0]);
  });

  it('an old copy that a second look corrects: a stale read, nothing lost', async () => {
    const { user, tally, state } = await withMugs({
      'GET /api/cart': [cart([]), cart([['mug', 3]])],
    });
    await action('view-cart').run(user, state);
    assert.deepEqual([tally.staleReads, tally.lostUpdates, tally.lost.length], [1, 0, 0]);
  });

  it('every acknowledged line gone for good: the session is lost with its cart, and it logs in again', async () => {
    const { user, tally, state } = await withMugs({ 'GET /api/cart': [cart([])] });
    await action('view-cart').run(user, state);
    assert.deepEqual(tally.lost, ['data-lost']);
    assert.equal(tally.lostUpdates, 0);
    assert.equal(await workload.prepare!(user, state), true);
    assert.equal(tally.sent.filter((r) => r === 'POST /api/login').length, 2);
  });

  it("the cart is the account's: the same lines after logout and login again, an empty one is lost", async () => {
    const kept = await withMugs({
      'POST /api/logout': [{ status: 204 }],
      'GET /api/cart': [cart([['mug', 3]])],
    });
    await action('logout').run(kept.user, kept.state);
    assert.equal(await workload.prepare!(kept.user, kept.state), true);
    await action('view-cart').run(kept.user, kept.state);
    assert.deepEqual([kept.tally.lost.length, kept.tally.lostUpdates, kept.tally.staleReads], [0, 0, 0]);

    const emptied = await withMugs({
      'POST /api/logout': [{ status: 204 }],
      'GET /api/cart': [cart([])],
    });
    await action('logout').run(emptied.user, emptied.state);
    assert.equal(await workload.prepare!(emptied.user, emptied.state), true);
    await action('view-cart').run(emptied.user, emptied.state);
    assert.deepEqual(emptied.tally.lost, ['data-lost'], 'the account cart vanished');
  });

  it('whoami says nobody while the shopper never logged out: a lost session', async () => {
    const { user, tally, state } = await withMugs({
      'GET /api/whoami': [{ status: 200, body: { user: null } }],
    });
    await action('whoami').run(user, state);
    assert.deepEqual(tally.lost, ['logged-out']);
  });

  it("a checkout's order is reported under its key; an unexpected 4xx is an error", async () => {
    const { user, tally, state } = await withMugs({
      'GET /api/cart': [cart([['mug', 3]]), cart([])],
      'POST /api/orders': [{ status: 201, body: { order: { id: 'o1' } } }],
      'POST /api/cart/items': [cart([['mug', 3]]), { status: 422, body: { code: 'SL_ERR_X' } }],
    });
    await action('buy').run(user, state);
    assert.deepEqual(tally.created, [['k1', 'o1']]);
    await action('add').run(user, state);
    assert.deepEqual(tally.unexpected, ['422 add']);
    await action('view-cart').run(user, state);
    assert.deepEqual(
      [tally.lostUpdates, tally.staleReads, tally.lost.length],
      [0, 0, 0],
      'the cart is empty after the order',
    );
  });

  it('a state size: the session gets that many recently viewed entries after each login (at most 100)', async () => {
    let sent: { views: { id: string; at: number }[] } | undefined;
    const viewed = (count: number) => (init: WorkloadRequestInit) => (
      (sent = init.json as typeof sent),
      { status: 200, body: { count } }
    );
    const s = scripted({
      'POST /api/login': [{ status: 200 }],
      'GET /api/products': [{ status: 200, body: { products: [{ id: 'mug' }, { id: 'tee' }] } }],
      'POST /api/viewed': viewed(3),
      'POST /api/logout': [{ status: 204 }],
    });
    const user = { ...s.user, stateSize: 3 };
    const state = workload.init(user);
    assert.equal(await workload.prepare!(user, state), true);
    assert.deepEqual(
      sent!.views.map((v) => v.id),
      ['mug', 'mug', 'mug'],
    );
    const times = sent!.views.map((v) => v.at);
    assert.deepEqual([...times].sort(), times, 'oldest first');
    assert.ok(times.at(-1)! <= Date.now() / 1000 && times[0]! > Date.now() / 1000 - 3600);
    assert.equal(await workload.prepare!(user, state), true);
    assert.deepEqual(s.tally.sent, ['POST /api/login', 'GET /api/products', 'POST /api/viewed']);
    // A logout ends the session and its views: the next login sends them again.
    await action('logout').run(user, state);
    assert.equal(await workload.prepare!(user, state), true);
    assert.equal(s.tally.sent.filter((r) => r === 'POST /api/viewed').length, 2);
    const big = scripted({
      'POST /api/login': [{ status: 200 }],
      'GET /api/products': [{ status: 200, body: { products: [{ id: 'mug' }] } }],
      'POST /api/viewed': viewed(100),
    });
    const many = { ...big.user, stateSize: 1000 };
    assert.equal(await workload.prepare!(many, workload.init(many)), true);
    assert.equal(sent!.views.length, 100);
  });

  it('the audit lists the orders with their keys, logging in only when asked to', async () => {
    const orders = { status: 200, body: { orders: [{ id: 'o1', idempotencyKey: 'k1' }, { id: 'o2' }] } };
    const own = scripted({ 'GET /api/orders': [orders] });
    assert.deepEqual(await workload.audit!({ http: own.user.http, n: 7, signIn: false }), [
      { id: 'o1', idempotencyKey: 'k1' },
      { id: 'o2', idempotencyKey: null },
    ]);
    assert.deepEqual(own.tally.sent, ['GET /api/orders']);
    let password: unknown;
    const fresh = scripted({
      'POST /api/login': (init) => ((password = init.json), { status: 200 }),
      'GET /api/orders': [orders],
    });
    assert.equal((await workload.audit!({ http: fresh.user.http, n: 7, signIn: true }))?.length, 2);
    assert.deepEqual(password, { username: 'user7', password: 'stateline' });
    const refused = scripted({ 'GET /api/orders': [{ status: 401 }] });
    assert.equal(await workload.audit!({ http: refused.user.http, n: 7, signIn: false }), null);
  });

  it('re-presents the cookie held before each answered logout: signed in again is a resurrected session', async () => {
    const { user, state } = await withMugs({ 'POST /api/logout': [{ status: 204 }, null] });
    let jar = 'sl.sid=old';
    Object.assign(user.http, { cookie: () => jar });
    await action('logout').run(user, state);
    jar = 'sl.sid=unanswered';
    assert.equal(await workload.prepare!(user, state), true);
    // No answer: the logout may not have happened, so that cookie proves nothing.
    await action('logout').run(user, state);
    assert.deepEqual(state.revoked, ['sl.sid=old']);
    const presented: unknown[] = [];
    const verify = async (signedIn: boolean) => {
      const probe = scripted({
        'GET /api/whoami': (init) => {
          presented.push(init.headers?.cookie);
          return { status: 200, body: { user: signedIn ? { id: 'u7', name: 'user7' } : null } };
        },
      });
      return workload.verify!({ http: probe.user.http, states: [state] });
    };
    const back = await verify(true);
    assert.equal(back['session.resurrected'], 1);
    assert.equal(back['session.revokedChecked'], 1);
    const gone = await verify(false);
    assert.equal(gone['session.resurrected'], 0);
    assert.equal(gone['session.revokedChecked'], 1);
    assert.deepEqual(presented, ['sl.sid=old', 'sl.sid=old']);
    // No chat here (the scripted user has no address to open one at).
    assert.deepEqual([gone['chat.clients'], gone['chat.lost']], [0, 0]);
  });
});

describe('the chat tally', () => {
  /** A member that joined at `joinedAt` and was delivered `received`; its client only counts closes. */
  function member(joinedAt: number, received: [string, number][], confirmed: [string, number][] = []) {
    const closed = { n: 0 };
    const client = { stats: { reconnects: 1, duplicates: 0, gaps: 0, resent: 2 }, close: () => closed.n++ };
    const m: ChatMember = {
      client: client as unknown as RealtimeClient,
      joinedAt,
      received: new Map(received),
      last: 3,
      confirmed: confirmed.map(([key, offset]) => ({ key, offset })),
      pending: 0,
      failed: 0,
      gone: false,
    };
    return { m, closed };
  }

  it('a stored line a joined client never got is lost, one got twice a duplicate; earlier lines are not owed', async () => {
    const a = member(
      0,
      [
        ['u1 a', 1],
        ['u2 b', 1],
      ],
      [['u1 a', 2]],
    );
    const b = member(0, [['u1 a', 2]], [['u2 b', 3]]);
    // Joined after both lines were stored: owed nothing.
    const late = member(3, []);
    const t = await tallyChat([a.m, b.m, late.m]);
    assert.deepEqual(t, {
      clients: 3,
      sent: 2,
      lost: 1,
      duplicates: 1,
      unconfirmed: 0,
      resent: 6,
      reconnects: 3,
      gone: 0,
    });
    assert.deepEqual([a.closed.n, b.closed.n, late.closed.n], [1, 1, 1]);
    // A client stopped for good (its session refused) is owed nothing after its last delivery.
    const stopped = member(0, [['u1 a', 1]], [['u1 a', 2]]);
    stopped.m.last = 2;
    stopped.m.gone = true;
    const after = member(
      0,
      [
        ['u1 a', 1],
        ['u2 c', 1],
      ],
      [['u2 c', 3]],
    );
    const g = await tallyChat([stopped.m, after.m]);
    assert.deepEqual([g.lost, g.duplicates, g.gone], [0, 0, 1]);
  });
});

describe('the workload with bearer credentials', () => {
  const pair = (n: number): Reply => ({
    status: 200,
    body: { accessToken: `a${n}`, refreshToken: `r${n}`, tokenType: 'Bearer', expiresIn: 600, handle: 'f1' },
  });
  const seenAuth: string[] = [];
  const whoami: Route = (init) => {
    const auth = init.headers?.authorization ?? '';
    seenAuth.push(auth);
    return auth === 'Bearer a2'
      ? { status: 200, body: { user: { id: 'user7' } } }
      : { status: 401, headers: { 'www-authenticate': 'Bearer realm="shop", error="invalid_token"' } };
  };

  it('signs in for tokens, sends them, and refreshes a refused access token once before asking again', async () => {
    seenAuth.length = 0;
    const { user, tally } = scripted(
      {
        'POST /api/tokens': [pair(1)],
        'POST /api/tokens/refresh': [pair(2)],
        'GET /api/whoami': whoami,
      },
      'bearer',
    );
    const state = workload.init(user);
    assert.equal(await workload.prepare!(user, state), true);
    await action('whoami').run(user, state);
    assert.deepEqual(seenAuth, ['Bearer a1', 'Bearer a2']);
    assert.deepEqual(tally.sent, [
      'POST /api/tokens',
      'GET /api/whoami',
      'POST /api/tokens/refresh',
      'GET /api/whoami',
    ]);
    assert.deepEqual(tally.counted, { 'tokens.refreshed': 1, 'tokens.familiesLost': 0 });
    assert.deepEqual([tally.lost, tally.unexpected], [[], []]);
  });

  it('a refused refresh is a family lost (not also a lost session); the user signs in again', async () => {
    const { user, tally } = scripted(
      {
        'POST /api/tokens': [pair(1), pair(3)],
        'POST /api/tokens/refresh': [{ status: 401, body: { code: 'SL_ERR_REFRESH_INVALID' } }],
        'GET /api/whoami': whoami,
      },
      'bearer',
    );
    const state = workload.init(user);
    assert.equal(await workload.prepare!(user, state), true);
    await action('whoami').run(user, state);
    assert.deepEqual(tally.counted, { 'tokens.refreshed': 0, 'tokens.familiesLost': 1 });
    assert.deepEqual([tally.lost, tally.unexpected], [[], []]);
    assert.equal(state.loggedIn, false);
    assert.equal(await workload.prepare!(user, state), true);
    assert.equal(state.tokens?.access, 'a3');
  });

  it('logging out ends the family (DELETE /api/tokens/<handle>) and forgets the tokens', async () => {
    const { user, tally } = scripted(
      { 'POST /api/tokens': [pair(1)], 'DELETE /api/tokens/f1': [{ status: 204 }] },
      'bearer',
    );
    const state = workload.init(user);
    await workload.prepare!(user, state);
    await action('logout').run(user, state);
    assert.equal(state.tokens, null);
    assert.deepEqual(tally.sent, ['POST /api/tokens', 'DELETE /api/tokens/f1']);
    assert.deepEqual(tally.unexpected, []);
  });
});

describe('the shop under stateline lab', () => {
  it('server/sqlite: the workload finds nothing lost, nothing stale, nothing twice', async () => {
    // No fault here (the lab's own tests prove what faults do to its counters): this proves the
    // workload judges the real shop right, and stays meaningful on a busy machine (scrypt logins).
    const report = await runLab({
      configs: parseConfigs('server/sqlite'),
      durationMs: 8000,
      users: 4,
      instances: 2,
      faults: [],
      seed: 13,
      app: SHOP_APP,
      write: false,
    });
    assert.deepEqual(validateReport(JSON.parse(JSON.stringify(report))), []);
    const run = report.runs[0]!;
    assert.equal(run.skipped, null, `ran: ${run.skipped}`);
    const seen = JSON.stringify({ lost: run.sessionsLostBy, errors: run.errorsByType, orders: run.orders });
    assert.ok(run.cart!.addsAcknowledged >= 5 && run.cart!.checks >= 5, JSON.stringify(run.cart));
    assert.ok(run.orders!.placed >= 1, seen);
    assert.ok(run.cache!.notModified > 0, 'the catalogue answered 304 to If-None-Match');
    assert.equal(run.sessionsLost, 0, seen);
    assert.equal(run.lostUpdates, 0, seen);
    assert.equal(run.staleReads, 0, seen);
    assert.equal(run.duplicateOrders, 0, seen);
    assert.deepEqual([run.orders!.missing, run.orders!.auditFailures], [0, 0], seen);
    // The four users are all chat users: their clients got every line once.
    const c = run.counters ?? {};
    assert.equal(c['chat.clients'], 4, JSON.stringify(c));
    assert.ok((c['chat.sent'] ?? 0) > 0, JSON.stringify(c));
    assert.deepEqual([c['chat.lost'], c['chat.duplicates'], c['session.resurrected']], [0, 0, 0]);
  });
});
