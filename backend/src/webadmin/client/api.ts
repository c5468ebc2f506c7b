import { el } from './dom.ts';
import type { SessionInfo } from './types.ts';

/** An API answer other than 2xx, with the server's `{error:{code,message}}` when it sent one. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly retryAfterSeconds: number | undefined;

  constructor(status: number, code: string, message: string, retryAfterSeconds?: number) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

const MAX_ALERTS = 4;

/** Shows a message in the page's alert area (role="alert"), once even when it repeats. */
export function showError(message: string): void {
  const area = document.getElementById('alerts');
  if (area === null) return;
  for (const existing of area.querySelectorAll<HTMLElement>('.alert-text')) if (existing.textContent === message) return;
  const dismiss = el('button', { type: 'button', class: 'alert-dismiss', 'aria-label': 'Dismiss' }, '×');
  const item = el('div', { class: 'alert', 'data-testid': 'error-message' }, [el('span', { class: 'alert-text' }, message), dismiss]);
  dismiss.addEventListener('click', () => item.remove());
  area.append(item);
  while (area.children.length > MAX_ALERTS) area.firstElementChild?.remove();
}

/** The login page, coming back to the current page afterwards. */
export function goToLogin(): void {
  const next = `${location.pathname}${location.search}`;
  location.assign(`/login?next=${encodeURIComponent(next)}`);
}

let session: Promise<SessionInfo> | undefined;

/** Who is logged in and the CSRF token, fetched once per page. */
export function currentSession(): Promise<SessionInfo> {
  session ??= request<SessionInfo>('GET', '/api/session').catch((error: unknown) => {
    session = undefined;
    throw error;
  });
  return session;
}

export interface RequestOptions {
  body?: unknown;
  /** Do not show the error in the alert area (the caller shows it its own way). */
  quiet?: boolean;
  /** Do not go to the login page on 401 (the login form itself). */
  allowUnauthenticated?: boolean;
}

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * A same-origin JSON request. State-changing methods carry the session's CSRF token. A 401 sends
 * the browser to the login page; other errors are shown in the alert area and thrown as ApiError.
 * @returns the parsed JSON body, or undefined for an empty one (204).
 */
export async function request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (STATE_CHANGING.has(method) && !options.allowUnauthenticated) {
    const { csrfToken } = await currentSession();
    if (csrfToken !== null) headers['x-csrf-token'] = csrfToken;
  }
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    });
  } catch {
    const error = new ApiError(0, 'network', 'cannot reach the web admin (network error); retrying on the next update');
    if (!options.quiet) showError(error.message);
    throw error;
  }
  if (response.ok) {
    const text = await response.text();
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }
  const error = await errorOf(response);
  if (response.status === 401 && !options.allowUnauthenticated) {
    goToLogin();
    throw error;
  }
  // A stale token (another tab logged in again): fetch a fresh one for the next attempt.
  if (error.code === 'csrf') session = undefined;
  if (!options.quiet) showError(error.message);
  throw error;
}

async function errorOf(response: Response): Promise<ApiError> {
  const retryAfter = Number(response.headers.get('retry-after') ?? Number.NaN);
  const retry = Number.isFinite(retryAfter) ? retryAfter : undefined;
  try {
    const body = (await response.json()) as { error?: { code?: unknown; message?: unknown } };
    const code = typeof body.error?.code === 'string' ? body.error.code : 'http_error';
    const message = typeof body.error?.message === 'string' ? body.error.message : `${response.status} ${response.statusText}`;
    return new ApiError(response.status, code, message, retry);
  } catch {
    return new ApiError(response.status, 'http_error', `the server answered ${response.status} ${response.statusText}`, retry);
  }
}

export const apiGet = <T>(path: string, options: RequestOptions = {}): Promise<T> => request<T>('GET', path, options);
export const apiPost = <T>(path: string, body: unknown, options: RequestOptions = {}): Promise<T> => request<T>('POST', path, { ...options, body });
export const apiPut = <T>(path: string, body: unknown, options: RequestOptions = {}): Promise<T> => request<T>('PUT', path, { ...options, body });

/** A query string from the defined parameters, e.g. `?from=1&to=2`. */
export function query(params: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined) search.set(name, String(value));
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
}

/** `/api/devices/<id>` with the id encoded (ids are untrusted path segments). */
export function devicePath(id: string, rest = ''): string {
  return `/api/devices/${encodeURIComponent(id)}${rest}`;
}
