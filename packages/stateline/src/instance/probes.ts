import type { IncomingMessage, ServerResponse } from 'node:http';

/** Longest a readiness check may take before `/readyz` says no. */
const READY_TIMEOUT = 1000;

/** What the probes need to know about their instance. */
export interface ProbeState {
  readonly id: string;
  readonly draining: boolean;
  readonly ready: (() => boolean | Promise<boolean>) | undefined;
}

async function checkReady(ready: ProbeState['ready']): Promise<boolean> {
  if (!ready) return true;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      Promise.resolve().then(ready),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), READY_TIMEOUT))),
    ]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown, head: boolean): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
  });
  res.end(head ? undefined : text);
}

/**
 * Answers `GET`/`HEAD` `/healthz` (liveness: 200 until a drain begins, whatever the Store says) and
 * `/readyz` (503 while draining or when `ready` throws, says false or takes over a second).
 * Returns false for any other request, which is the app's.
 */
export function answerProbe(req: IncomingMessage, res: ServerResponse, state: ProbeState): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const path = (req.url ?? '/').split('?', 1)[0];
  if (path !== '/healthz' && path !== '/readyz') return false;
  const head = req.method === 'HEAD';
  const { id } = state;
  if (state.draining) sendJson(res, 503, { status: 'draining', instance: id }, head);
  else if (path === '/healthz') sendJson(res, 200, { status: 'ok', instance: id }, head);
  else
    void checkReady(state.ready).then((ok) =>
      sendJson(res, ok ? 200 : 503, { status: ok ? 'ready' : 'unready', instance: id }, head),
    );
  return true;
}
