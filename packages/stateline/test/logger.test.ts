/**
 * The `logger` option: a pino logger given to a component receives what that component used to
 * print or emit as a process warning; without one, the old behaviour stays.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { MemoryBus, createBus } from '../src/bus/index.js';
import { createIdempotency } from '../src/idempotency/index.js';
import { runInstance, type RunningInstance } from '../src/instance/index.js';
import { processLogger, resolveLogger, type Logger } from '../src/logger.js';
import { createSessions } from '../src/session/index.js';
import type { SessionManager } from '../src/session/types.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { StatelineError } from '../src/errors.js';
import { Harness } from './realtime/harness.js';
import { RawClient } from './realtime/raw-client.js';
import { KEY_A } from './session/client.js';
import { eventually, sleep } from './support/free-port.js';

interface Line {
  level: number;
  msg: string;
  err?: { message: string; stack?: string };
  [k: string]: unknown;
}

/** A real pino logger writing JSON lines into an array. */
function capture(): { logger: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as Line) });
  // Type check: a pino logger is a Logger as it is.
  const typed: Logger = logger;
  return { logger: typed, lines };
}

/** Process warnings emitted while `fn` runs (and shortly after). */
async function warningsDuring(fn: () => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  const on = (w: Error) => seen.push(`${w.name}: ${w.message}`);
  process.on('warning', on);
  try {
    await fn();
    await sleep(30);
  } finally {
    process.off('warning', on);
  }
  return seen;
}

const WARN = 40;
const ERROR = 50;
const INFO = 30;

describe('logger option', () => {
  const closers: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const c of closers.reverse()) await c();
  });

  it('a bus handler that throws is reported to the given pino logger, not as a process warning', async () => {
    const { logger, lines } = capture();
    const bus = await createBus({ type: 'memory', hub: {}, logger });
    closers.push(() => bus.close());
    await bus.subscribe('boom', () => {
      throw new Error('handler bug');
    });
    const warnings = await warningsDuring(async () => {
      await bus.publish('boom', 'x');
      await eventually(() => lines.length === 1);
    });
    assert.equal(lines[0]!.level, WARN);
    assert.equal(lines[0]!.msg, 'stateline bus handler for "boom" threw');
    assert.equal(lines[0]!.err?.message, 'handler bug');
    assert.equal(lines[0]!.channel, 'boom');
    assert.deepEqual(warnings, []);
  });

  it('without a logger the same failure is still a process warning (the default is unchanged)', async () => {
    const bus = new MemoryBus({ hub: {} });
    closers.push(() => bus.close());
    await bus.subscribe('boom', () => {
      throw new Error('handler bug');
    });
    const warnings = await warningsDuring(async () => {
      await bus.publish('boom', 'x');
    });
    assert.deepEqual(warnings, ['StatelineWarning: stateline bus handler for "boom" threw: handler bug']);
  });

  it('createSessions: revocations that cannot be re-read warn once per outage, then say when they are back', async () => {
    const { logger, lines } = capture();
    const store = new (class extends MemoryStore {
      down = false;
      override indexMembers(owner: string) {
        if (this.down) return Promise.reject(new StatelineError('SL_ERR_STORE_UNAVAILABLE', 'test: down'));
        return super.indexMembers(owner);
      }
    })();
    const sessions: SessionManager = await createSessions({
      strategy: 'token',
      keys: [KEY_A],
      store,
      revocationSync: 20,
      logger,
    });
    closers.push(() => sessions.close());
    store.down = true;
    await eventually(() => lines.length >= 1);
    await sleep(100); // several failed re-reads: still one line
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.level, WARN);
    assert.match(lines[0]!.msg, /revocations cannot be re-read from the Store/);
    assert.match(lines[0]!.err?.message ?? '', /test: down/);
    store.down = false;
    await eventually(() => lines.length === 2);
    assert.equal(lines[1]!.level, INFO);
    assert.match(lines[1]!.msg, /re-read from the Store again/);
  });

  it('createHub: a room policy that throws reaches the logger with its error', async () => {
    const { logger, lines } = capture();
    const h = new Harness();
    closers.push(() => h.close());
    const { port } = await h.start({
      logger,
      rooms: () => {
        throw new Error('policy bug');
      },
    });
    const c = await RawClient.connect(port);
    closers.push(async () => c.close());
    c.send({ type: 'join', room: 'broken' });
    await c.until(() => c.of('error').length === 1);
    await eventually(() => lines.some((l) => l.err?.message === 'policy bug'));
    assert.equal(lines.find((l) => l.err?.message === 'policy bug')!.level, WARN);
  });

  it('idempotency: without onError, a failure no response carries goes to logger.error', async () => {
    const { logger, lines } = capture();
    const idem = createIdempotency({ store: new MemoryStore(), logger });
    idem.onError(new Error('cannot save'));
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.level, ERROR);
    assert.equal(lines[0]!.err?.message, 'cannot save');
  });

  it('runInstance: the listening line is logger.info', async () => {
    const { logger, lines } = capture();
    const inst: RunningInstance = await runInstance((_q, s) => s.end(), {
      id: 'log1',
      port: 0,
      host: '127.0.0.1',
      exit: false,
      logger,
    });
    closers.push(() => inst.drain());
    const line = lines.find((l) => l.level === INFO);
    assert.equal(line?.msg, `stateline instance log1 listening on http://127.0.0.1:${inst.port}`);
    assert.equal(line?.instance, 'log1');
  });

  it('a logger without the four methods is refused with SL_ERR_INVALID_OPTION', async () => {
    assert.throws(
      () => resolveLogger({ warn() {}, error() {} }, 'createSessions'),
      (e: unknown) =>
        e instanceof StatelineError && e.code === 'SL_ERR_INVALID_OPTION' && /logger/.test(e.message),
    );
    await assert.rejects(
      createSessions({ strategy: 'memory', keys: [KEY_A], logger: { log() {} } as unknown as Logger }),
      /logger must have error, warn, info and debug/,
    );
    assert.equal(typeof processLogger().debug, 'function');
  });
});
