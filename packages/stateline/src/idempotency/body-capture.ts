/** Collects response body bytes up to a limit; past it, forgets them and remembers only that. */
export class BodyCapture {
  private chunks: Uint8Array[] = [];
  private size = 0;
  private overflow = false;

  constructor(private readonly limit: number) {}

  add(chunk: Uint8Array): void {
    if (this.overflow) return;
    this.size += chunk.byteLength;
    if (this.size > this.limit) {
      this.overflow = true;
      this.chunks = [];
      return;
    }
    // Copied: the caller may reuse its buffer once the write returns.
    this.chunks.push(new Uint8Array(chunk));
  }

  /** Everything collected, or `null` when the body outgrew the limit. */
  bytes(): Uint8Array | null {
    return this.overflow ? null : Buffer.concat(this.chunks);
  }
}
