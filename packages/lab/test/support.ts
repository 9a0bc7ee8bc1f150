/** Small helpers for the lab tests. */

/** The app of the cluster tests (sessions, counter, idempotent orders, slow requests). */
export const CLUSTER_APP = new URL('./fixtures/cluster-app.ts', import.meta.url).pathname;

/** True while a process with this pid exists (signal 0 only checks). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export { eventually, sleep } from '../../stateline/test/support/free-port.js';

/** GET (or another method) and parse the JSON answer. */
export async function getJson<T = unknown>(
  url: string,
  init: RequestInit = {},
): Promise<{ status: number; headers: Headers; body: T }> {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : null) as T };
}
