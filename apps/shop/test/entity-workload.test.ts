/**
 * The shop's `entities` workload judged without a server: scripted answers for its users' calls
 * (takeover timing, acknowledged purchases and edits) and for its whole-run `verify` (units sold
 * twice or beyond the stock, acknowledged units or edits the drop or the list no longer holds).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WorkloadAnswer, WorkloadHttp, WorkloadUser } from 'stateline/instance';
import { entityWorkload, type Editor } from '../src/entity-workload.js';

type Reply = { status: number; body?: unknown } | null;

/** HTTP answering `'METHOD /path'` from a list of replies (the last one repeats). */
function http(routes: Record<string, Reply[]>, uncertain = false): WorkloadHttp {
  const answer = (method: string, path: string): WorkloadAnswer | null => {
    const list = routes[`${method} ${path}`];
    if (!list) throw new Error(`no reply for ${method} ${path}`);
    const r = list.length > 1 ? list.shift()! : list[0]!;
    if (r === null) return null;
    const body = r.body ?? null;
    const code = (body as { code?: unknown } | null)?.code;
    return { status: r.status, headers: new Headers(), body, code: typeof code === 'string' ? code : '' };
  };
  let keys = 0;
  return {
    request: async (method, path) => answer(method, path),
    idempotent: async (method, path) => ({ key: `k${++keys}`, answer: answer(method, path), uncertain }),
  };
}

function user(h: WorkloadHttp) {
  const seen = {
    counted: {} as Record<string, number>,
    timed: [] as [string, number][],
    unexpected: [] as string[],
  };
  const u: WorkloadUser = {
    n: 1,
    credentials: 'cookie',
    stateSize: null,
    http: h,
    random: {
      next: () => 0,
      int: (min) => min,
      chance: () => false,
      pick: (l) => l[0]!,
      hex128: () => 'ab'.repeat(16),
    },
    report: {
      unexpected: (a, what) => void seen.unexpected.push(`${a.status} ${what}`),
      retry: () => {},
      sessionLost: () => {},
      lostUpdate: () => {},
      staleRead: () => {},
      acknowledged: () => {},
      checked: () => {},
      created: () => {},
      count: (name, n = 1) => void (seen.counted[name] = (seen.counted[name] ?? 0) + n),
      timing: (name, ms) => void seen.timed.push([name, ms]),
    },
    stopped: () => false,
    think: async () => {},
    sleep: async () => {},
    recheck: async (first) => first,
  };
  return { u, seen };
}

const action = (name: string) => entityWorkload.actions.find((a) => a.name === name)!;
const BUY = 'POST /api/drop/aurora-lamp/buy';
const sold = (unit: number, owner: string): Reply => ({
  status: 201,
  body: { unit, left: 100 - unit, owner, order: { id: `o${unit}` } },
});

describe('the entities workload, answer by answer', () => {
  it('a purchase answered by a new owner after failures is a takeover, timed from the first failure', async () => {
    const routes: Record<string, Reply[]> = { [BUY]: [sold(1, 'i1'), null, { status: 503 }, sold(2, 'i2')] };
    const { u, seen } = user(http(routes));
    const s = entityWorkload.init(u);
    for (let i = 0; i < 4; i++) {
      s.nextBuyAt = 0;
      await action('buy').run(u, s);
    }
    assert.deepEqual([...s.units.values()], [1, 2]);
    assert.equal(seen.counted['drop.purchases'], 2);
    assert.equal(seen.timed.length, 1);
    assert.equal(seen.timed[0]![0], 'takeover');
  });

  it('the same owner again is no takeover; sold out stops the buying', async () => {
    const routes: Record<string, Reply[]> = {
      [BUY]: [sold(1, 'i1'), sold(2, 'i1'), { status: 409, body: { code: 'SL_ERR_SOLD_OUT' } }],
    };
    const { u, seen } = user(http(routes));
    const s = entityWorkload.init(u);
    for (let i = 0; i < 3; i++) {
      s.nextBuyAt = 0;
      await action('buy').run(u, s);
    }
    assert.deepEqual(seen.timed, []);
    assert.equal(s.soldOut, true);
    assert.deepEqual(seen.unexpected, []);
  });

  it('an add is an acknowledged edit with its version; a toggle of a removed item is a fair 404', async () => {
    const routes: Record<string, Reply[]> = {
      'POST /api/lists/shared/items': [{ status: 201, body: { version: 4, owner: 'i1', item: { id: 9 } } }],
      'POST /api/lists/shared/items/9/toggle': [{ status: 404, body: { code: 'SL_ERR_NOT_FOUND' } }],
    };
    const { u, seen } = user(http(routes));
    const s = entityWorkload.init(u);
    await action('add-item').run(u, s);
    await action('toggle-item').run(u, s);
    assert.deepEqual(s.edits, [{ op: 'add', item: 9, version: 4 }]);
    assert.deepEqual(seen.unexpected, []);
  });
});

describe('the entities workload, a full list', () => {
  it('"full" is a fair answer: the next add removes an item instead', async () => {
    const routes: Record<string, Reply[]> = {
      'POST /api/lists/shared/items': [{ status: 409, body: { code: 'SL_ERR_LIST_FULL' } }],
      'GET /api/lists/shared': [{ status: 200, body: { list: { version: 200, items: [{ id: 5 }] } } }],
      'DELETE /api/lists/shared/items/5': [{ status: 200, body: { version: 201, owner: 'i1', item: null } }],
    };
    const { u, seen } = user(http(routes));
    const s = entityWorkload.init(u);
    await action('add-item').run(u, s);
    assert.equal(s.full, true);
    await action('add-item').run(u, s); // knows no item yet: looks at the list
    await action('add-item').run(u, s);
    assert.deepEqual(s.edits, [{ op: 'remove', item: 5, version: 201 }]);
    assert.equal(s.full, false);
    assert.deepEqual(seen.unexpected, []);
  });
});

describe('the entities workload, verify', () => {
  const editor = (over: Partial<Editor>): Editor => ({ ...entityWorkload.init(user(http({})).u), ...over });
  const world = (soldCount: number, version: number, items: number[]) =>
    http({
      'GET /api/drop/aurora-lamp': [{ status: 200, body: { drop: { sold: soldCount } } }],
      'POST /api/login': [{ status: 200 }],
      'GET /api/lists/shared': [
        { status: 200, body: { list: { version, items: items.map((id) => ({ id })) } } },
      ],
    });
  const verify = (h: WorkloadHttp, states: Editor[]) => entityWorkload.verify!({ http: h, states });

  it('all zeros when what was acknowledged is what the drop and the list hold', async () => {
    const states = [
      editor({ units: new Map([['a', 1]]), edits: [{ op: 'add', item: 1, version: 1 }] }),
      editor({ units: new Map([['b', 2]]), edits: [{ op: 'toggle', item: 1, version: 2 }] }),
    ];
    assert.deepEqual(await verify(world(2, 2, [1]), states), {
      'drop.sold': 2,
      'drop.oversold': 0,
      'drop.purchasesLost': 0,
      'list.editsLost': 0,
      acknowledgedLost: 0,
    });
  });

  it('one unit answered to two buyers is oversold; a unit the drop no longer counts is lost', async () => {
    const twice = [editor({ units: new Map([['a', 1]]) }), editor({ units: new Map([['b', 1]]) })];
    assert.equal((await verify(world(1, 0, []), twice))['drop.oversold'], 1);
    const gone = [
      editor({
        units: new Map([
          ['a', 1],
          ['b', 2],
        ]),
      }),
    ];
    const r = await verify(world(1, 0, []), gone);
    assert.deepEqual([r['drop.purchasesLost'], r.acknowledgedLost], [1, 1]);
  });

  it('edits above the list version, two edits with one version, an add gone unremoved: each lost', async () => {
    const states = [
      editor({
        edits: [
          { op: 'add', item: 1, version: 1 },
          { op: 'add', item: 2, version: 2 },
          { op: 'add', item: 3, version: 3 },
        ],
      }),
      editor({ edits: [{ op: 'toggle', item: 1, version: 2 }], removing: new Set([3]) }),
    ];
    // Version 2 held: edit 3 is above it, version 2 was answered twice, item 2 vanished; item 3 was being removed.
    const r = await verify(world(0, 2, [1]), states);
    assert.equal(r['list.editsLost'], 3);
  });

  it('a drop or list it cannot read makes verify fail (the lab then counts verify.failed)', async () => {
    const broken = http({ 'GET /api/drop/aurora-lamp': [{ status: 503 }] });
    await assert.rejects(verify(broken, []), /the drop could not be read/);
  });
});
