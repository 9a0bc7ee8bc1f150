/** Bytes counted per entry beyond its two strings (Map slot, string headers). */
const ENTRY_OVERHEAD = 64;

/**
 * Token → plaintext of tokens that authenticated, bounded by the bytes they hold rather than by
 * count or by each token's size: a 3 KB token is cached like a 300-byte one, there are only fewer
 * of them. Oldest out first; an entry larger than an eighth of the budget is not kept.
 *
 * @example
 * ```ts
 * const opened = new OpenedTokens(8 * 1024 * 1024);
 * opened.remember(token, json);
 * opened.get(token); // json
 * ```
 */
export class OpenedTokens {
  private readonly map = new Map<string, string>();
  /** Bytes held now (string lengths plus a fixed overhead per entry). */
  bytes = 0;

  constructor(private readonly maxBytes: number) {}

  get size(): number {
    return this.map.size;
  }

  get(token: string): string | undefined {
    return this.map.get(token);
  }

  remember(token: string, plaintext: string): void {
    const cost = costOf(token, plaintext);
    if (cost * 8 > this.maxBytes || this.map.has(token)) return;
    this.bytes += cost;
    this.map.set(token, plaintext);
    while (this.bytes > this.maxBytes) {
      const [oldToken, oldPlain] = this.map.entries().next().value!;
      this.map.delete(oldToken);
      this.bytes -= costOf(oldToken, oldPlain);
    }
  }
}

// Strings are counted at one byte per UTF-16 unit: V8 keeps JSON and base64url one byte per char.
function costOf(token: string, plaintext: string): number {
  return token.length + plaintext.length + ENTRY_OVERHEAD;
}
