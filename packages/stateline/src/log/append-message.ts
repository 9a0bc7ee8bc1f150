import { StatelineError } from '../errors.js';
import type { AppendField, AppendMessage, AppendResult } from './types.js';

const FIELDS: ReadonlySet<string> = new Set<AppendField>(['offset', 'epoch', 'at']);

/** Refuses a template whose parts do not interleave (`SL_ERR_INVALID_ARGUMENT`). */
export function checkAppendMessage(m: AppendMessage): void {
  if (
    typeof m.channel !== 'string' ||
    m.text.length !== m.fields.length + 1 ||
    !m.text.every((t) => typeof t === 'string') ||
    !m.fields.every((f) => FIELDS.has(f))
  ) {
    throw new StatelineError(
      'SL_ERR_INVALID_ARGUMENT',
      'append message: needs a channel, fields among offset/epoch/at, and one text more than fields',
    );
  }
}

/**
 * The message an {@link AppendMessage} template stands for once the append is known: what an
 * `AppendPublisher` publishes, and what a caller without one publishes after `append`.
 *
 * @example
 * ```ts
 * const m = { channel: 'room', text: ['m[', ',', ']'], fields: ['epoch', 'offset'] } as const;
 * fillAppendMessage(m, { offset: 7, epoch: 'e1', at: 0, duplicate: false }); // 'm["e1",7]'
 * ```
 */
export function fillAppendMessage(m: AppendMessage, r: AppendResult): string {
  let out = m.text[0]!;
  for (let i = 0; i < m.fields.length; i++) {
    const f = m.fields[i];
    out +=
      (f === 'epoch' ? JSON.stringify(r.epoch) : String(f === 'offset' ? r.offset : r.at)) + m.text[i + 1]!;
  }
  return out;
}
