import type { Action, InstanceView } from './api.js';
import { el } from './dom.js';

/** The counters shown per instance, in column order. */
const COUNTS = ['inflight', 'served', 'errors', 'retries', 'websockets', 'restarts'] as const;

/**
 * Redraws the instance table: one row per instance with its state and counters, and kill / stop /
 * start buttons (disabled where they make no sense, or while `busy` holds that instance); the
 * instance that served this browser's shop page last (`servedYou`) is marked.
 *
 * @example
 * ```ts
 * renderRows(tbody, status.instances, busy, (id, action) => void act(id, action));
 * ```
 */
export function renderRows(
  rows: HTMLElement,
  instances: readonly InstanceView[],
  busy: ReadonlySet<string>,
  onAction: (id: string, action: Action) => void,
  servedYou: string | null = null,
): void {
  rows.textContent = '';
  for (const i of instances) {
    const you = i.id === servedYou;
    const tr = el('tr', {
      'data-testid': `instance-${i.id}`,
      'data-state': i.state,
      class: you ? 'you' : '',
    });
    const name = el('td', {}, i.id);
    if (you)
      name.append(
        el(
          'span',
          { class: 'you-badge', 'data-testid': `you-${i.id}`, title: 'served this browser last' },
          'served you last',
        ),
      );
    tr.append(
      name,
      el('td', { class: `state state-${i.state}`, 'data-testid': `state-${i.id}` }, i.state),
      el('td', { class: 'num' }, i.pid ?? '-'),
    );
    for (const k of COUNTS) tr.append(el('td', { class: 'num', 'data-testid': `${k}-${i.id}` }, i[k]));
    const td = el('td');
    const noProcess = i.pid === null;
    const actions: [Action, boolean][] = [
      ['kill', noProcess],
      ['stop', noProcess],
      ['start', !noProcess],
    ];
    for (const [action, pointless] of actions) {
      const b = el('button', { type: 'button', class: action, 'data-testid': `${action}-${i.id}` }, action);
      b.disabled = pointless || busy.has(i.id);
      b.addEventListener('click', () => onAction(i.id, action));
      td.append(b);
    }
    tr.append(td);
    rows.append(tr);
  }
}
