/**
 * A token bucket over inbound frames: each accepted frame takes a token, tokens come back at
 * `messages / per`, up to `burst`. A refused frame takes nothing but counts as a strike; strikes
 * reset on the next accepted frame, so a client that waits `retryAfter()` never accumulates them,
 * and `flooding` (more than `burst` strikes in a row) tells a client that ignores the refusals.
 *
 * @example
 * ```ts
 * const bucket = new TokenBucket(20, 1000, 40);
 * if (!bucket.take()) bucket.flooding ? close(4429) : refuse(bucket.retryAfter());
 * ```
 */
export class TokenBucket {
  private tokens: number;
  private strikes = 0;
  private last = performance.now();
  private readonly perMs: number;

  constructor(
    messages: number,
    per: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
    this.perMs = messages / per;
  }

  /** True when a token was available (and taken). */
  take(): boolean {
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + (now - this.last) * this.perMs);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      this.strikes = 0;
      return true;
    }
    this.strikes++;
    return false;
  }

  /** More than `burst` frames in a row were refused. */
  get flooding(): boolean {
    return this.strikes > this.burst;
  }

  /** Ms until a frame would be accepted. */
  retryAfter(): number {
    return this.tokens >= 1 ? 0 : Math.ceil((1 - this.tokens) / this.perMs);
  }
}
