import { ApiError, request, showError } from './api.ts';
import { renderDevicePage } from './device-page.ts';
import { byId } from './dom.ts';
import { renderFleetPage } from './fleet-page.ts';
import { startRelativeTimeTicker } from './format.ts';
import { renderIntegrityPage } from './integrity-page.ts';
import { LiveEvents } from './live.ts';
import { renderLoginPage } from './login-page.ts';
import { renderTokensPage } from './tokens-page.ts';

/**
 * Entry point of the browser code: the server-rendered shell names the page in
 * `<main id="app" data-page=...>`, and this renders it.
 */
function wireLogout(): void {
  const button = document.getElementById('logout');
  button?.addEventListener('click', async () => {
    try {
      await request('POST', '/logout');
    } finally {
      location.assign('/login');
    }
  });
}

function start(): void {
  // API errors are shown where they happen; anything else escaping a handler is a bug worth seeing.
  window.addEventListener('unhandledrejection', (event) => {
    if (!(event.reason instanceof ApiError)) showError(`unexpected error: ${String(event.reason)}`);
  });
  const main = byId('app');
  const page = main.dataset.page;
  if (page === 'login') {
    renderLoginPage(main);
    return;
  }
  wireLogout();
  startRelativeTimeTicker();
  const live = new LiveEvents(document.getElementById('live-indicator'));
  if (page === 'fleet') renderFleetPage(main, live);
  else if (page === 'integrity') renderIntegrityPage(main, live);
  else if (page === 'device') void renderDevicePage(main, main.dataset.deviceId ?? '', live);
  else if (page === 'tokens') renderTokensPage(main);
  else showError(`unknown page "${page ?? ''}"`);
  live.start();
}

start();
