/**
 * The rows of `npm run bench -- sessions`: one server per row, each started in its own child
 * process by name (`bench/servers/session-server.ts <row> <redis-prefix>`).
 */

export type Framework = 'fastify' | 'express';

export interface Row {
  /** Passed to the child; also what `--only` matches. */
  name: string;
  framework: Framework;
  /** What the table shows. */
  label: string;
  /** The row the ratio column compares against. */
  anchor: string;
  /** False for the bare frameworks: no session, so no session check. */
  session: boolean;
  /** Uses the shared Redis (and so gets a key prefix to clean up). */
  redis: boolean;
  /** Uses the bench's own memcached (bench/servers/memcached-admin.ts). */
  memcached?: boolean;
}

const FASTIFY_ANCHOR = 'fastify+fastify-session';
const EXPRESS_ANCHOR = 'express+express-session';

/**
 * In run order. The rows a target compares run back to back (memory/hybrid, server/anchor,
 * token/iron-session), and every other round runs in reverse, so a slow drift of the shared
 * machine weighs on both sides of a ratio alike.
 */
export const ROWS: readonly Row[] = [
  {
    name: 'fastify',
    framework: 'fastify',
    label: 'bare fastify',
    anchor: FASTIFY_ANCHOR,
    session: false,
    redis: false,
  },
  {
    name: 'fastify+stateline-memory',
    framework: 'fastify',
    label: 'Stateline memory',
    anchor: FASTIFY_ANCHOR,
    session: true,
    redis: false,
  },
  {
    name: 'fastify+stateline-hybrid',
    framework: 'fastify',
    label: 'Stateline hybrid/redis',
    anchor: FASTIFY_ANCHOR,
    session: true,
    redis: true,
  },
  {
    name: 'fastify+stateline-server',
    framework: 'fastify',
    label: 'Stateline server/redis',
    anchor: FASTIFY_ANCHOR,
    session: true,
    redis: true,
  },
  {
    name: 'fastify+stateline-server-memcached',
    framework: 'fastify',
    label: 'Stateline server/memcached',
    anchor: FASTIFY_ANCHOR,
    session: true,
    redis: false,
    memcached: true,
  },
  {
    // Issue #14: the same row with `migrate` readers configured; its clients carry native cookies.
    name: 'fastify+stateline-server-migrate',
    framework: 'fastify',
    label: 'Stateline server/redis + migrate',
    anchor: FASTIFY_ANCHOR,
    session: true,
    redis: true,
  },
  {
    name: FASTIFY_ANCHOR,
    framework: 'fastify',
    label: '@fastify/session+connect-redis',
    anchor: FASTIFY_ANCHOR,
    session: true,
    redis: true,
  },
  {
    name: 'fastify+stateline-token',
    framework: 'fastify',
    label: 'Stateline token',
    anchor: FASTIFY_ANCHOR,
    session: true,
    redis: true,
  },
  {
    name: 'express',
    framework: 'express',
    label: 'bare express',
    anchor: EXPRESS_ANCHOR,
    session: false,
    redis: false,
  },
  {
    name: 'express+stateline-server',
    framework: 'express',
    label: 'Stateline server/redis',
    anchor: EXPRESS_ANCHOR,
    session: true,
    redis: true,
  },
  {
    name: 'express+stateline-server-migrate',
    framework: 'express',
    label: 'Stateline server/redis + migrate',
    anchor: EXPRESS_ANCHOR,
    session: true,
    redis: true,
  },
  {
    name: 'express+floor-redis',
    framework: 'express',
    label: 'floor: GET + INCR, raw node-redis',
    anchor: EXPRESS_ANCHOR,
    session: false,
    redis: true,
  },
  {
    name: 'express+floor-store',
    framework: 'express',
    label: 'floor: Stateline Store GET + compare-and-set',
    anchor: EXPRESS_ANCHOR,
    session: false,
    redis: true,
  },
  {
    name: EXPRESS_ANCHOR,
    framework: 'express',
    label: 'express-session+connect-redis',
    anchor: EXPRESS_ANCHOR,
    session: true,
    redis: true,
  },
  {
    name: 'express+connect-memcached',
    framework: 'express',
    label: 'express-session+connect-memcached',
    anchor: EXPRESS_ANCHOR,
    session: true,
    redis: false,
    memcached: true,
  },
  {
    name: 'express+stateline-token',
    framework: 'express',
    label: 'Stateline token',
    anchor: 'express+iron-session',
    session: true,
    redis: true,
  },
  {
    name: 'express+iron-session',
    framework: 'express',
    label: 'iron-session',
    anchor: 'express+iron-session',
    session: true,
    redis: false,
  },
];

/** A target: `row` reaches `min` × `anchor` on `workload` (no `min`: the ratio is only recorded). */
export interface Target {
  workload: 'hit' | 'read';
  row: string;
  anchor: string;
  min?: number;
}

export const TARGETS: readonly Target[] = [
  { workload: 'hit', row: 'fastify+stateline-server', anchor: FASTIFY_ANCHOR, min: 1.5 },
  { workload: 'hit', row: 'express+stateline-server', anchor: EXPRESS_ANCHOR, min: 1.3 },
  { workload: 'hit', row: 'express+stateline-token', anchor: 'express+iron-session', min: 3 },
  { workload: 'read', row: 'fastify+stateline-hybrid', anchor: 'fastify+stateline-memory', min: 0.9 },
  // Issue #20: the session hit against the bare framework (no session middleware).
  { workload: 'hit', row: 'express+stateline-server', anchor: 'express', min: 0.9 },
  { workload: 'hit', row: 'fastify+stateline-server', anchor: 'fastify' },
  // The same two Redis round trips without the session layer: what the Express figure can reach.
  { workload: 'hit', row: 'express+floor-redis', anchor: 'express' },
  { workload: 'hit', row: 'express+floor-store', anchor: 'express' },
  // Issue #14: a request with a valid native cookie pays nothing for configured migrations.
  { workload: 'hit', row: 'fastify+stateline-server-migrate', anchor: 'fastify+stateline-server', min: 0.97 },
  { workload: 'hit', row: 'express+stateline-server-migrate', anchor: 'express+stateline-server', min: 0.97 },
];

/** Secret shared by every row (each library needs at least 32 characters). */
export const BENCH_SECRET = 'bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz';

export const REDIS_URL = 'redis://127.0.0.1:6379';

/** Messages a server child sends to the bench. */
export type ChildMessage =
  | { type: 'ready'; port: number }
  | { type: 'stats'; stats: ServerStats }
  | { type: 'error'; message: string };

/** What a server child counted, so a row whose connections lose their session is caught. */
export interface ServerStats {
  hits: number;
  reads: number;
  /** `/hit` answers of 1: a session was (re)created. Equals the connection count when every connection kept its session. */
  created: number;
  /** `/read` answers without a counter: the request came without a usable session. */
  readMisses: number;
  /** CPU time the server process has used so far (user + system), in µs. */
  cpuMicros: number;
  /** The server's monotonic clock in µs (the clock of `--cpu-prof` sample times), to cut a profile to the measured runs. */
  clockMicros: number;
}
