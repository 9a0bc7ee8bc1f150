import { onChat, sendChat, startChat, type ChatState } from '../chat.js';
import { h, replace } from '../dom.js';
import { when } from '../format.js';
import { go } from '../router.js';
import { getState } from '../state.js';

const STATUS: Record<ChatState['status'], string> = {
  off: 'not connected',
  connecting: 'connecting…',
  connected: 'connected',
  reconnecting: 'reconnecting…',
  closed: 'closed',
};

/**
 * The lobby chat: who is here (on any instance), the messages, and a box to write one.
 *
 * @example
 * ```ts
 * const cleanup = renderChat(document.querySelector('#view')!);
 * ```
 */
export function renderChat(root: HTMLElement): (() => void) | void {
  if (!getState().user) return go('login');
  startChat();

  const status = h('span', { class: 'muted', testid: 'chat-status' });
  const problem = h('p', { class: 'notice error', testid: 'chat-problem', hidden: true });
  const members = h('ul', { class: 'members', testid: 'presence' });
  const messages = h('ol', { class: 'messages', testid: 'chat-messages', 'aria-live': 'polite' });
  const input = h('input', {
    name: 'text',
    maxlength: 2000,
    autocomplete: 'off',
    placeholder: 'Say something to the lobby',
    'aria-label': 'Message',
    testid: 'chat-input',
  });
  const send = h('button', { type: 'submit', class: 'primary', testid: 'chat-send' }, 'Send');
  const form = h(
    'form',
    {
      class: 'row',
      onsubmit: (ev: Event) => {
        ev.preventDefault();
        const text = input.value.trim();
        if (!text) return;
        send.disabled = true;
        sendChat(text)
          .then(() => (input.value = ''))
          .catch((err: unknown) => {
            problem.textContent = err instanceof Error ? err.message : 'The message was not sent.';
            problem.hidden = false;
          })
          .finally(() => {
            send.disabled = false;
            input.focus();
          });
      },
    },
    input,
    send,
  );

  replace(
    root,
    h('div', { class: 'row spread' }, h('h2', {}, 'Lobby'), status),
    problem,
    h(
      'div',
      { class: 'chat' },
      h('section', { class: 'card' }, messages, form),
      h('aside', { class: 'card' }, h('h3', {}, 'Here now'), members),
    ),
  );

  let last: ChatState['messages'][number] | undefined;
  const me = getState().user?.id;
  return onChat((s) => {
    status.textContent = STATUS[s.status];
    status.dataset.status = s.status;
    if (s.problem) {
      problem.textContent = s.problem;
      problem.hidden = false;
    }
    replace(
      members,
      ...s.members.map((m) => h('li', { testid: `presence-${m}`, class: m === me ? 'me' : '' }, m)),
    );
    const stick = messages.scrollTop + messages.clientHeight >= messages.scrollHeight - 4;
    // Appends what came after the last message drawn; anything else (a new page, a reset) redraws.
    const from = last === undefined ? -1 : s.messages.indexOf(last);
    if (from === -1) replace(messages);
    for (const m of s.messages.slice(from + 1)) {
      messages.append(
        h(
          'li',
          { testid: 'chat-message', class: m.from === me ? 'mine' : '' },
          h('span', { class: 'from' }, m.from),
          h('span', { class: 'text' }, m.text),
          h('time', { class: 'muted', datetime: new Date(m.at).toISOString() }, when(m.at)),
        ),
      );
    }
    last = s.messages[s.messages.length - 1];
    while (messages.childElementCount > s.messages.length) messages.firstElementChild?.remove();
    if (stick) messages.scrollTop = messages.scrollHeight;
  });
}
