import { ApiError, request } from './api.ts';
import { el, replaceChildren } from './dom.ts';
import type { SessionInfo } from './types.ts';

/**
 * Where to go after logging in: `next` when it is a path on this site. `//host` and `/\host` are
 * other sites to a browser, so only a single leading slash followed by a non-slash counts.
 */
export function safeNext(next: string | null): string {
  if (next === null || !next.startsWith('/') || next.startsWith('//') || /[\\\p{Cc}]/u.test(next)) return '/';
  if (next === '/login' || next.startsWith('/login?')) return '/';
  return next;
}

function loginErrorMessage(error: unknown): string {
  if (!(error instanceof ApiError)) return 'the login failed; try again';
  if (error.status === 401) return 'wrong username or password';
  if (error.status === 429) {
    const wait = error.retryAfterSeconds;
    return wait === undefined ? 'too many failed attempts; try again later' : `too many failed attempts; try again in ${wait} s`;
  }
  if (error.status === 0) return 'cannot reach the web admin; check the connection';
  return error.message;
}

/** The login form: POST /login (JSON), then on to `?next` or the fleet. */
export function renderLoginPage(main: HTMLElement): void {
  const username = el('input', { id: 'login-username', name: 'username', type: 'text', autocomplete: 'username', required: true, maxlength: 64, 'data-testid': 'login-username' });
  const password = el('input', {
    id: 'login-password',
    name: 'password',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
    maxlength: 1024,
    'data-testid': 'login-password',
  });
  const submit = el('button', { type: 'submit', class: 'primary', 'data-testid': 'login-submit' }, 'Log in');
  const message = el('p', { class: 'form-error', role: 'alert', 'data-testid': 'login-error' });
  const form = el('form', { class: 'login-form card', method: 'post', action: '/login', novalidate: true }, [
    el('h1', {}, 'Log in'),
    el('label', { for: 'login-username' }, 'Username'),
    username,
    el('label', { for: 'login-password' }, 'Password'),
    password,
    message,
    submit,
  ]);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    message.textContent = '';
    if (username.value === '' || password.value === '') {
      message.textContent = 'enter username and password';
      return;
    }
    submit.disabled = true;
    try {
      await request<SessionInfo>('POST', '/login', { body: { username: username.value, password: password.value }, quiet: true, allowUnauthenticated: true });
      location.assign(safeNext(new URLSearchParams(location.search).get('next')));
    } catch (error) {
      message.textContent = loginErrorMessage(error);
      password.select();
    } finally {
      submit.disabled = false;
    }
  });
  replaceChildren(main, el('div', { class: 'login-wrap' }, form));
  username.focus();
}
