import { h, replace } from '../dom.js';
import { when } from '../format.js';
import { showError, showInfo } from '../notice.js';
import { go } from '../router.js';
import { listSessions, logout, revokeSession, whoami } from '../shop-api.js';
import { getState } from '../state.js';
import type { SessionInfo } from '../types.js';

/**
 * "My sessions": every device the user is logged in on (browsers, and API clients by their token
 * family), each with a revoke button, and a
 * "log out everywhere" button.
 *
 * @example
 * ```ts
 * renderSessions(document.querySelector('#view')!);
 * ```
 */
export function renderSessions(root: HTMLElement): void {
  if (!getState().user) return go('login');

  const load = () =>
    listSessions().then(draw, (err: unknown) => {
      replace(
        root,
        h('h2', {}, 'My sessions'),
        h('p', { class: 'muted' }, 'Your sessions could not be loaded.'),
      );
      showError(err);
    });

  const revoke = (s: SessionInfo) =>
    revokeSession(s.handle).then(
      async () => {
        if (s.current) {
          // Revoking this session is a logout.
          await whoami();
          showInfo('This session was logged out.');
          return go('login');
        }
        showInfo('That session was logged out.');
        return load();
      },
      (err: unknown) => {
        showError(err);
        return load();
      },
    );

  const draw = (sessions: SessionInfo[]) =>
    replace(
      root,
      h('h2', {}, 'My sessions'),
      h(
        'table',
        { class: 'card table', testid: 'sessions' },
        h(
          'thead',
          {},
          h('tr', {}, h('th', {}, 'Device'), h('th', {}, 'Logged in'), h('th', {}, 'Last seen'), h('th', {})),
        ),
        h(
          'tbody',
          {},
          ...sessions.map((s) =>
            h(
              'tr',
              { testid: 'session', 'data-current': s.current ? 'true' : 'false' },
              h(
                'td',
                { class: 'agent' },
                s.userAgent ?? 'unknown device',
                s.kind === 'token' && h('span', { class: 'badge', testid: 'session-token' }, 'API token'),
                s.current && h('span', { class: 'badge', testid: 'session-current' }, 'this one'),
              ),
              h('td', {}, when(s.createdAt)),
              h('td', {}, when(s.lastSeenAt)),
              h(
                'td',
                { class: 'actions' },
                h(
                  'button',
                  { testid: 'session-revoke', onclick: () => void revoke(s) },
                  s.current ? 'Log out' : 'Revoke',
                ),
              ),
            ),
          ),
        ),
      ),
      h(
        'div',
        { class: 'card' },
        h('p', {}, 'Lost a device? End every session of your account, on every instance, at once.'),
        h(
          'button',
          {
            class: 'danger',
            testid: 'logout-all',
            onclick: () =>
              logout(true).then(() => {
                showInfo('Logged out everywhere.');
                go('login');
              }, showError),
          },
          'Log out everywhere',
        ),
      ),
    );

  replace(root, h('p', { class: 'muted' }, 'Loading your sessions…'));
  void load();
}
