import { apiGet, apiPost } from './api.ts';
import { actionButton, cardCell, el, headRow, replaceChildren, scrollingTable } from './dom.ts';
import { localDateTime, relativeTimeLabel } from './format.ts';
import type { TokenRecord } from './types.ts';
import { section } from './widgets.ts';

const STATE_CLASS: Record<TokenRecord['state'], string> = { active: 'badge badge-online', expired: 'badge badge-unknown', revoked: 'badge badge-offline' };

function tokenRow(token: TokenRecord, onRevoked: () => void): HTMLTableRowElement {
  const revoke =
    token.state === 'active'
      ? actionButton('Revoke', { class: 'small danger', 'data-testid': 'token-revoke' }, async () => {
          if (!window.confirm(`Revoke the API token "${token.name}" of ${token.username}? Scripts using it stop working at once.`)) return;
          try {
            await apiPost(`/api/tokens/${token.id}/revoke`, {});
            onRevoked();
          } catch {
            // apiPost showed the error in the alert area; the button stays for another try.
          }
        })
      : null;
  return el('tr', { 'data-testid': 'token-row', 'data-token-id': token.id, 'data-state': token.state }, [
    cardCell('Name', token.name),
    cardCell('User', token.username),
    cardCell('Scope', token.scope === 'read' ? 'read only' : 'full'),
    cardCell('State', el('span', { class: STATE_CLASS[token.state], 'data-testid': 'token-state' }, token.state)),
    cardCell('Created', localDateTime(token.createdAt), { class: 'nowrap' }),
    cardCell('Expires', localDateTime(token.expiresAt), { class: 'nowrap' }),
    cardCell('Last used', relativeTimeLabel(token.lastUsedAt)),
    cardCell('', revoke),
  ]);
}

/**
 * API tokens (admins): every user's tokens with scope, expiry, last use and state, and revoking
 * one. Tokens are made with the CLI (`webadmin-user token`), which shows a new token once.
 */
export function renderTokensPage(main: HTMLElement): void {
  const body = el('div', { 'data-testid': 'tokens' }, el('p', { class: 'muted' }, 'Loading…'));
  const help = el('p', { class: 'muted small' }, [
    'New tokens: ',
    el('code', {}, 'node backend/src/cli/webadmin-user.ts token --username NAME --name PURPOSE --scope read|full --expires-days N'),
  ]);
  replaceChildren(main, [el('h1', {}, 'API tokens'), section('Tokens', {}, [help, body])]);

  const load = async (): Promise<void> => {
    const { tokens } = await apiGet<{ tokens: TokenRecord[] }>('/api/tokens');
    if (tokens.length === 0) {
      replaceChildren(body, el('p', { class: 'empty', 'data-testid': 'tokens-empty' }, 'No API tokens.'));
      return;
    }
    const table = el('table', { class: 'tokens-table cards-on-phone', 'data-testid': 'tokens-table' }, [
      headRow(['Name', 'User', 'Scope', 'State', 'Created', 'Expires', 'Last used', '']),
      el(
        'tbody',
        {},
        tokens.map((token) => tokenRow(token, () => void load().catch(() => {}))),
      ),
    ]);
    replaceChildren(body, scrollingTable(table));
  };
  load().catch(() => {
    replaceChildren(body, el('p', { class: 'empty' }, 'The tokens could not be loaded.'));
  });
}
