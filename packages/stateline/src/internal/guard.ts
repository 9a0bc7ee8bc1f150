import { StatelineError, type ErrorCode } from '../errors.js';

type UnavailableCode = Extract<
  ErrorCode,
  'SL_ERR_STORE_UNAVAILABLE' | 'SL_ERR_BUS_UNAVAILABLE' | 'SL_ERR_LOG_UNAVAILABLE'
>;

/** A call in flight. `reject` is dropped once the call settles, so a settled entry pins nothing. */
interface Pending {
  readonly deadline: number;
  readonly op: string;
  reject: ((err: unknown) => void) | undefined;
  next: Pending | undefined;
}

/**
 * Wraps every backend call: refuses calls after close, bounds each call by `timeout`, and turns
 * any driver failure into the backend's `…_UNAVAILABLE` error so callers see one stable code.
 *
 * Why not a timer per call: on a hot path (300k calls/s) a `setTimeout` + `Promise.race` per call
 * costs more than the round trip it guards (docs/BENCHMARKS.md, store). Every call gets the same
 * timeout and the clock is monotonic, so deadlines arrive in call order: calls in flight form a
 * FIFO (a linked list, calls may settle in any order) and ONE unref'd timer, armed for the oldest
 * unsettled call, expires whatever is due. A call costs one promise and one reaction.
 *
 * @example
 * ```ts
 * const guard = new CallGuard('SL_ERR_STORE_UNAVAILABLE', 'redis store', 2000);
 * const value = await guard.run('get', () => client.sendCommand(['GET', 'k']));
 * await guard.run('sync', () => db.prepare('SELECT 1').get()); // sync results pass straight through
 * ```
 */
export class CallGuard {
  private closed = false;
  /** Oldest call still in the FIFO (it may have settled already; expiry skips those). */
  private head: Pending | undefined;
  private tail: Pending | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly code: UnavailableCode,
    private readonly label: string,
    readonly timeout: number,
  ) {}

  get isClosed(): boolean {
    return this.closed;
  }

  /** Refuses new calls; calls already in flight still settle (and still time out). True the first time. */
  close(): boolean {
    const first = !this.closed;
    this.closed = true;
    return first;
  }

  /**
   * Runs `fn` now. A promise result is bounded by `timeout`; a plain (synchronous) result cannot
   * hang and is returned as is. Failures, thrown or rejected, become `…_UNAVAILABLE` errors unless
   * they already are `StatelineError`s. With `parse`, the reply goes through it in the same
   * reaction that settles the call (one promise hop less than `fn().then(parse)`); what `parse`
   * throws is mapped like any failure.
   */
  run<T>(op: string, fn: () => Promise<T> | T): Promise<T>;
  run<R, T>(op: string, fn: () => Promise<R> | R, parse: (reply: R) => T): Promise<T>;
  run<R, T>(op: string, fn: () => Promise<R> | R, parse?: (reply: R) => T): Promise<T | R> {
    if (this.closed) return Promise.reject(new StatelineError('SL_ERR_CLOSED', `${this.label} was closed`));
    let work: Promise<R> | R;
    try {
      work = fn();
      if (!(work instanceof Promise)) {
        if (!isThenable(work)) return Promise.resolve(parse ? parse(work) : work);
        work = Promise.resolve(work);
      }
    } catch (err) {
      return Promise.reject(this.wrap(op, err));
    }
    const started: Promise<R> = work;
    return new Promise<T | R>((resolve, reject) => {
      const p: Pending = { deadline: performance.now() + this.timeout, op, reject, next: undefined };
      if (this.tail) this.tail.next = p;
      else this.head = p;
      this.tail = p;
      if (this.timer === undefined) this.arm();
      started.then(
        (reply) => {
          if (p.reject === undefined) return; // timed out already
          p.reject = undefined;
          this.drop();
          if (!parse) return resolve(reply);
          try {
            resolve(parse(reply));
          } catch (err) {
            reject(this.wrap(op, err));
          }
        },
        (err: unknown) => {
          if (p.reject === undefined) return;
          p.reject = undefined;
          this.drop();
          reject(this.wrap(op, err));
        },
      );
    });
  }

  /** `err` as this backend's `…_UNAVAILABLE` error (a `StatelineError` passes through unchanged). */
  wrap(op: string, err: unknown): StatelineError {
    if (err instanceof StatelineError) return err;
    const why = err instanceof Error ? err.message : String(err);
    return new StatelineError(this.code, `${this.label}: ${op} failed (${why})`, { cause: err });
  }

  /** Unlinks settled calls from the front; ones behind an unsettled call wait for it (bounded by `timeout`). */
  private drop(): void {
    let p = this.head;
    while (p !== undefined && p.reject === undefined) p = p.next;
    this.head = p;
    if (p === undefined) this.tail = undefined;
  }

  private arm(): void {
    const p = this.head;
    if (p === undefined) return;
    // ceil: a timer may fire up to 1 ms early on libuv's cached clock; expire() re-checks anyway.
    const wait = Math.max(1, Math.ceil(p.deadline - performance.now()));
    this.timer = setTimeout(this.expire, wait);
    this.timer.unref();
  }

  private readonly expire = (): void => {
    this.timer = undefined;
    const now = performance.now();
    let p = this.head;
    while (p !== undefined && (p.reject === undefined || p.deadline <= now)) {
      const reject = p.reject;
      if (reject !== undefined) {
        p.reject = undefined;
        reject(new StatelineError(this.code, `${this.label}: ${p.op} took longer than ${this.timeout} ms`));
      }
      p = p.next;
    }
    this.head = p;
    if (p === undefined) this.tail = undefined;
    else this.arm();
  };
}

function isThenable(x: unknown): x is PromiseLike<unknown> {
  return typeof x === 'object' && x !== null && typeof (x as { then?: unknown }).then === 'function';
}
