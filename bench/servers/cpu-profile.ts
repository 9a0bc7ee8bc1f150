import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  startTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a function's code lives: a package name, `stateline`, `node core`, or a V8 pseudo-frame. */
function owner(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return 'node core';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (nm) return nm[1]!;
  if (url.includes('/packages/stateline/')) return 'stateline';
  if (url.includes('/bench/')) return 'bench server';
  return url;
}

function shortUrl(url: string): string {
  const nm = /node_modules\/(.*)$/.exec(url);
  if (nm) return nm[1]!;
  const sl = /packages\/stateline\/(.*)$/.exec(url);
  if (sl) return `stateline/${sl[1]!}`;
  return url.replace(/^file:\/\/.*\/bench\//, 'bench/');
}

export interface ProfileSummary {
  /** Sampled ms outside `(idle)`. */
  busyMs: number;
  idleMs: number;
  /** Top functions by self time, with their share of busy time. */
  functions: { name: string; pct: number; ms: number }[];
  /** Self time summed by owner (package, stateline, node core, GC). */
  owners: { name: string; pct: number; ms: number }[];
  /**
   * Library functions (not node core) by inclusive time: the function and everything it called,
   * which shows what a Stateline or anchor call costs even when the work happens in node core.
   */
  inclusive: { name: string; pct: number; ms: number }[];
}

/**
 * Self time per function and per owner from a `.cpuprofile` written by `node --cpu-prof`, counting
 * only samples inside `window` (µs on the profiled process's monotonic clock) when given, so start-up
 * and module loading do not blur the picture of the measured runs.
 */
export function summarizeProfile(
  file: string,
  top = 20,
  window?: { from: number; to: number },
): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const label = (f: CallFrame) =>
    f.url
      ? `${f.functionName || '(anonymous)'} ${shortUrl(f.url)}:${f.lineNumber + 1}`
      : f.functionName || '(native)';
  const inclusive = new Map<string, number>();
  const fn = new Map<string, number>();
  const own = new Map<string, number>();
  let idle = 0;
  let busy = 0;
  let at = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    at += p.timeDeltas[i] ?? 0;
    const node = byId.get(p.samples[i]!);
    // timeDeltas[i + 1] is the time until the next sample: the time spent in this one.
    const ms = (p.timeDeltas[i + 1] ?? 0) / 1000;
    if (!node || (window && (at < window.from || at > window.to))) continue;
    const f = node.callFrame;
    if (f.functionName === '(idle)') {
      idle += ms;
      continue;
    }
    busy += ms;
    const key = label(f);
    fn.set(key, (fn.get(key) ?? 0) + ms);
    // Each library frame on the stack once (recursion must not count twice).
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const frame = byId.get(id)!.callFrame;
      const o = owner(frame);
      if (!frame.url || o === 'node core' || o === 'bench server') continue;
      const k = label(frame);
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + ms);
    }
    const o = owner(f);
    own.set(o, (own.get(o) ?? 0) + ms);
  }
  const rank = (m: Map<string, number>, n: number) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, ms]) => ({ name, ms, pct: busy > 0 ? (100 * ms) / busy : 0 }));
  return {
    busyMs: busy,
    idleMs: idle,
    functions: rank(fn, top),
    owners: rank(own, 12),
    inclusive: rank(inclusive, top),
  };
}
