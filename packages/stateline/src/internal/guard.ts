import { StatelineError, type ErrorCode } from '../errors.js';
import { withTimeout } from './timeout.js';

type UnavailableCode = Extract<ErrorCode, 'SL_ERR_STORE_UNAVAILABLE' | 'SL_ERR_BUS_UNAVAILABLE' | 'SL_ERR_LOG_UNAVAILABLE'>;

/**
 * Wraps every backend call: refuses calls after close, bounds each call by `timeout`, and turns
 * any driver failure into the backend's `…_UNAVAILABLE` error so callers see one stable code.
 */
export class CallGuard {
  private closed = false;

  constructor(
    private readonly code: UnavailableCode,
    private readonly label: string,
    readonly timeout: number,
  ) {}

  get isClosed(): boolean {
    return this.closed;
  }

  close(): boolean {
    const first = !this.closed;
    this.closed = true;
    return first;
  }

  run<T>(op: string, fn: () => Promise<T> | T): Promise<T> {
    if (this.closed) return Promise.reject(new StatelineError('SL_ERR_CLOSED', `${this.label} was closed`));
    let work: Promise<T>;
    try {
      work = Promise.resolve(fn());
    } catch (err) {
      work = Promise.reject(err);
    }
    return withTimeout(
      work,
      this.timeout,
      () => new StatelineError(this.code, `${this.label}: ${op} took longer than ${this.timeout} ms`),
    ).catch((err: unknown) => {
      throw this.wrap(op, err);
    });
  }

  wrap(op: string, err: unknown): StatelineError {
    if (err instanceof StatelineError) return err;
    const why = err instanceof Error ? err.message : String(err);
    return new StatelineError(this.code, `${this.label}: ${op} failed (${why})`, { cause: err });
  }
}
