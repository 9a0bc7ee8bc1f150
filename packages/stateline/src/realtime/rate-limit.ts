/**
 * A token bucket over inbound frames. Each frame takes one token; the balance may go below zero
 * while the client keeps sending (each such frame is refused), and `flooding` tells when it went
 * `burst` below zero, i.e. the client ignores the refusals.
 *
 * @example
 * ```ts
 * const bucket = new TokenBucket(20, 1000, 40);
 * if (!bucket.take()) refuse(bucket.retryAfter());
 * ```
 */
export class TokenBucket {
  private tokens: number;
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

  /** True when a token was available. */
  take(): boolean {
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + (now - this.last) * this.perMs);
    this.last = now;
    this.tokens -= 1;
    return this.tokens >= 0;
  }

  /** The balance went more than `burst` below zero. */
  get flooding(): boolean {
    return this.tokens < -this.burst;
  }

  /** Ms until the next frame would be accepted. */
  retryAfter(): number {
    return this.tokens >= 0 ? 0 : Math.ceil(-this.tokens / this.perMs);
  }
}
