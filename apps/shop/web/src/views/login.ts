import { h, replace } from '../dom.js';
import { clearNotice, showError } from '../notice.js';
import { go } from '../router.js';
import { login } from '../shop-api.js';
import { getState } from '../state.js';

/**
 * The login form, with the demo users as a hint.
 *
 * @example
 * ```ts
 * renderLogin(document.querySelector('#view')!);
 * ```
 */
export function renderLogin(root: HTMLElement): void {
  const username = h('input', {
    name: 'username',
    autocomplete: 'username',
    required: true,
    maxlength: 64,
    testid: 'login-username',
  });
  const password = h('input', {
    name: 'password',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
    testid: 'login-password',
  });
  const submit = h('button', { type: 'submit', class: 'primary', testid: 'login-submit' }, 'Log in');
  const form = h(
    'form',
    {
      class: 'card narrow',
      testid: 'login-form',
      onsubmit: (ev: Event) => {
        ev.preventDefault();
        submit.disabled = true;
        login(username.value.trim(), password.value)
          .then(() => {
            clearNotice();
            go('catalog');
          })
          .catch(showError)
          .finally(() => (submit.disabled = false));
      },
    },
    h('h2', {}, 'Log in'),
    h('label', {}, 'User name', username),
    h('label', {}, 'Password', password),
    submit,
    h(
      'p',
      { class: 'hint', testid: 'login-hint' },
      'Demo users: ',
      h('code', {}, 'alice'),
      ', ',
      h('code', {}, 'bob'),
      ' or ',
      h('code', {}, 'carol'),
      ', password ',
      h('code', {}, 'stateline'),
      '. Your cart comes with you when you log in.',
    ),
  );
  const user = getState().user;
  replace(root, user ? h('p', { class: 'card narrow' }, `You are logged in as ${user.name}.`) : form);
  if (!user) username.focus();
}
