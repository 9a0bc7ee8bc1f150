/**
 * A record's next JSON text made from the text it was loaded from, without serializing what did
 * not change. A session hit that bumps a counter beside a 100-line cart then serializes a few
 * numbers instead of the whole 4 KB record (JSON.stringify of it was ~7 % of such a request's
 * CPU), and the Store's compare-and-set, which sends only what differs from the text it
 * replaces, sees the few bytes that changed.
 *
 * No scanner: walking 4 KB of JSON character by character in JS costs more than V8's own
 * JSON.stringify of it. The text was written by JSON.stringify from the object it parses into,
 * so the members whose values are primitives are found by serializing just them and checking
 * that the text holds exactly that, from the front and from the back; the members between (the
 * objects and arrays) are then one run of text, copied whole when none of them changed.
 */

/** The keys of `d` set, updated or deleted since the text was loaded (a Set, or the session's pending Map). */
export interface Changed {
  has(key: string): boolean;
  readonly size: number;
}

type Obj = Record<string, unknown>;

const isPrimitive = (v: unknown): boolean => v === null || typeof v !== 'object';

const pair = (name: string, value: unknown): string => `${JSON.stringify(name)}:${JSON.stringify(value)}`;

/**
 * Where the members of `obj` are in `t`, whose text from `from` (its `{`) to `to` (after its `}`)
 * is `obj`'s JSON: member `i`'s `"name":value` text is `t.slice(starts[i], ends[i])`, except in a
 * run of several objects or arrays side by side (not located one by one: -1), whose members'
 * text, commas included, is `t.slice(runFrom, runTo)`. Null when `t` does not hold what `obj`
 * serializes to.
 */
function locate(
  t: string,
  from: number,
  to: number,
  names: readonly string[],
  obj: Obj,
): { starts: number[]; ends: number[]; runFrom: number; runTo: number } | null {
  if (t.charCodeAt(from) !== 123 || t.charCodeAt(to - 1) !== 125) return null;
  const n = names.length;
  const starts = new Array<number>(n).fill(-1);
  const ends = new Array<number>(n).fill(-1);
  let at = from + 1;
  let a = 0;
  for (; a < n && isPrimitive(obj[names[a]!]); a++) {
    const piece = pair(names[a]!, obj[names[a]!]);
    if (a > 0 && t.charCodeAt(at++) !== 44) return null;
    if (!t.startsWith(piece, at)) return null;
    starts[a] = at;
    at += piece.length;
    ends[a] = at;
  }
  let end = to - 1;
  let b = n - 1;
  for (; b >= a && isPrimitive(obj[names[b]!]); b--) {
    const piece = pair(names[b]!, obj[names[b]!]);
    if (t.slice(end - piece.length, end) !== piece) return null;
    ends[b] = end;
    end -= piece.length;
    starts[b] = end;
    if (b > 0 && t.charCodeAt(--end) !== 44) return null;
  }
  if (a <= b && a > 0 && t.charCodeAt(at++) !== 44) return null;
  if (at > end || (a > b && at !== end)) return null;
  // One object or array between the located members: the run is exactly it.
  if (a === b) {
    starts[a] = at;
    ends[a] = end;
  }
  return { starts, ends, runFrom: at, runTo: end };
}

/**
 * The JSON text of `after`: the text of `before`'s members (located in `t`) whose values are
 * unchanged, then changed and new members serialized; `inner` rewrites a changed `d`. Null when a
 * changed member is inside a run that could not be located member by member.
 */
function rewrite(
  t: string,
  from: number,
  to: number,
  before: Obj,
  after: Obj,
  changed: Changed | undefined,
  inner: ((from: number, to: number) => string | null) | undefined,
  skip: string,
): string | null {
  const names = Object.keys(before).filter((k) => k !== skip);
  const at = locate(t, from, to, names, before);
  if (!at) return null;
  const { starts, ends } = at;
  const out: string[] = [];
  let runDone = false;
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    const v = after[name];
    const same = v === before[name] && !changed?.has(name);
    if (starts[i]! < 0) {
      // In a run of several objects/arrays: copied whole, or not at all when any of them changed.
      if (!same) return null;
      if (!runDone) out.push(t.slice(at.runFrom, at.runTo));
      runDone = true;
    } else if (same) out.push(t.slice(starts[i], ends[i]));
    else if (v === undefined || !Object.hasOwn(after, name)) continue;
    else if (inner && name === 'd') {
      // `"d":` (4 characters) then the object's text.
      const d = inner(starts[i]! + 4, ends[i]!);
      if (d === null) return null;
      out.push(`"d":${d}`);
    } else out.push(pair(name, v));
  }
  for (const name of Object.keys(after)) {
    if (name !== skip && after[name] !== undefined && !Object.hasOwn(before, name))
      out.push(pair(name, after[name]));
  }
  return `{${out.join(',')}}`;
}

/**
 * The JSON of `after` (without its `h`) made from `text`, the JSON of `before` (without `h`) as it
 * was loaded, when `after` is `before` with some top-level fields and the keys of `d` named in
 * `changed` replaced, added or removed. Members that did not change are copied from `text`; key
 * order follows `text`, new keys last. Null when that cannot be done (the caller then serializes
 * the whole record). A value changed in place without `set`/`update` keeps its stored text: a
 * session keeps only what goes through its methods (docs/sessions.md).
 *
 * @example
 * ```ts
 * const text = '{"u":null,"d":{"cart":{"items":[]},"hits":1}}';
 * const before = JSON.parse(text);
 * const after = { ...before, d: { ...before.d, hits: 2 } };
 * rewriteRecord(text, before, after, new Set(['hits'])); // '{"u":null,"d":{"cart":{"items":[]},"hits":2}}'
 * ```
 */
export function rewriteRecord(
  text: string,
  before: { d: Obj },
  after: { d: Obj },
  changed: Changed,
): string | null {
  const data = (from: number, to: number): string | null =>
    rewrite(text, from, to, before.d, after.d, changed, undefined, '');
  return rewrite(
    text,
    0,
    text.length,
    before as unknown as Obj,
    after as unknown as Obj,
    undefined,
    data,
    'h',
  );
}
