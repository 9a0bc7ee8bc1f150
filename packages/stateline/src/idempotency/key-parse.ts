/** Longest key accepted, in characters after unquoting. */
export const MAX_KEY_LENGTH = 255;

/** The outcome of reading an `Idempotency-Key` header value. */
export type KeyParse = { ok: true; key: string } | { ok: false; reason: string };

/**
 * Reads an `Idempotency-Key` value: bare (1–255 characters 0x21–0x7E) or an RFC 8941 sf-string
 * (`"…"`, where spaces are allowed and only `\"` and `\\` are escapes). Surrounding spaces and
 * tabs are ignored, as HTTP field parsing does; anything else is refused with a reason.
 *
 * @example
 * ```ts
 * parseIdempotencyKey('"8e03978e-40d5"'); // { ok: true, key: '8e03978e-40d5' }
 * parseIdempotencyKey('a b');             // { ok: false, reason: '…' }
 * ```
 */
export function parseIdempotencyKey(value: string): KeyParse {
  const text = value.replace(/^[ \t]+|[ \t]+$/g, '');
  const key = text.startsWith('"') ? unquote(text) : bare(text);
  if (typeof key !== 'string') return key;
  if (key.length === 0) return { ok: false, reason: 'the key is empty' };
  if (key.length > MAX_KEY_LENGTH)
    return { ok: false, reason: `the key is longer than ${MAX_KEY_LENGTH} characters` };
  return { ok: true, key };
}

function bare(text: string): string | KeyParse {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x21 || c > 0x7e)
      return {
        ok: false,
        reason: `a bare key allows only visible ASCII (0x21-0x7E); quote it ("…") to use spaces`,
      };
  }
  return text;
}

function unquote(text: string): string | KeyParse {
  let out = '';
  for (let i = 1; i < text.length; i++) {
    const ch = text[i]!;
    const c = ch.charCodeAt(0);
    if (ch === '"') {
      return i === text.length - 1 ? out : { ok: false, reason: 'characters follow the closing quote' };
    }
    if (ch === '\\') {
      const next = text[++i];
      if (next !== '"' && next !== '\\')
        return { ok: false, reason: 'a quoted key allows only \\" and \\\\ as escapes' };
      out += next;
    } else if (c < 0x20 || c > 0x7e) {
      return { ok: false, reason: 'a quoted key allows only printable ASCII (0x20-0x7E)' };
    } else {
      out += ch;
    }
  }
  return { ok: false, reason: 'the quoted key has no closing quote' };
}
