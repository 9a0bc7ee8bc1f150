import net from 'node:net';

export const REDIS_URL = process.env.STATELINE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const POSTGRES_URL =
  process.env.STATELINE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const NATS_URL = process.env.STATELINE_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
export const IN_CI = process.env.CI === 'true' || process.env.CI === '1';

function reachable(url: string, defaultPort: number): Promise<boolean> {
  const u = new URL(url);
  const port = Number(u.port || defaultPort);
  const host = u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1000, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

const printed = new Set<string>();

/**
 * Checks a service the integration tests need. Returns `false` (skip, with one printed line)
 * when it is absent outside CI; under `CI=true` an absent service throws, failing the run.
 */
export async function needService(name: 'redis' | 'postgres' | 'nats'): Promise<string | false> {
  const [url, port] = { redis: [REDIS_URL, 6379], postgres: [POSTGRES_URL, 5432], nats: [NATS_URL, 4222] }[
    name
  ] as [string, number];
  const ok = await reachable(url, port);
  if (ok) return false;
  const line = `${name} is not reachable at ${url}: skipping its tests (set STATELINE_TEST_${name.toUpperCase()}_URL)`;
  if (IN_CI) throw new Error(`CI=true but ${line.split(':')[0]}`);
  // scripts/test.mjs already said it once for the whole run.
  if (!printed.has(name) && !process.env.STATELINE_TEST_SKIPS_REPORTED) {
    printed.add(name);
    process.stdout.write(`# SKIP ${line}\n`);
  }
  return line;
}

/** A unique key prefix so concurrent test files never meet on the shared servers. */
export function uniquePrefix(tag: string): string {
  return `sltest:${tag}:${process.pid}:${Math.random().toString(36).slice(2, 8)}:`;
}
