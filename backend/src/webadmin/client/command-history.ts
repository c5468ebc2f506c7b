import { apiGet, devicePath } from './api.ts';
import { cardCell, el, headRow, replaceChildren, scrollingTable } from './dom.ts';
import { localDateTime } from './format.ts';
import type { BroadcastAnswer, BroadcastRecord } from '../../db/broadcast-store.ts';
import type { CommandRecord } from './types.ts';

type AnsweredBroadcast = { broadcast: BroadcastRecord; answer: BroadcastAnswer };

/**
 * An answered command with `ok` null was received, but the device's software reports no outcome:
 * the original answers reboot before it reboots (docs/original-devices.md §3). That is neither ok
 * nor failed, and is shown as such.
 */
function result(command: Pick<CommandRecord, 'ok' | 'state'>): { text: string; kind: 'ok' | 'failed' | 'not-reported' | 'none'; title?: string } {
  if (command.ok === true) return { text: 'ok', kind: 'ok' };
  if (command.ok === false) return { text: 'failed', kind: 'failed' };
  if (command.state === 'answered') {
    return { text: 'received; outcome not reported', kind: 'not-reported', title: 'The device answered, but its software does not say whether the command worked (the original answers reboot before rebooting).' };
  }
  return { text: '—', kind: 'none' };
}

function resultCell(command: Pick<CommandRecord, 'ok' | 'state'>): HTMLElement {
  const { text, kind, title } = result(command);
  return cardCell('Result', el('span', { 'data-testid': 'command-result', 'data-result': kind, ...(title === undefined ? {} : { title }) }, text), { class: kind === 'failed' ? 'bad' : kind === 'not-reported' ? 'muted' : '' });
}

/** Arguments and responses come from operators and devices: shown as JSON text, never markup. */
function jsonText(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = JSON.stringify(value);
  return text === '{}' ? '' : text;
}

/** The arguments without the command name, which has its own column. */
function argumentsOf(command: Pick<CommandRecord, 'args'>): Record<string, unknown> {
  const { command: _name, ...rest } = command.args;
  return rest;
}

function argumentsCell(command: Pick<CommandRecord, 'args'>): HTMLElement {
  const text = jsonText(argumentsOf(command));
  return cardCell('Arguments', text === '' ? el('span', { class: 'muted' }, '—') : el('code', { class: 'json' }, text));
}

/** Commands sent to every device that this device answered (docs/original-devices.md §3). */
function broadcastTable(answered: readonly AnsweredBroadcast[]): HTMLElement {
  return el('div', { 'data-testid': 'broadcast-answers' }, [
    el('h3', {}, 'Broadcasts this device answered'),
    scrollingTable(
      el('table', { class: 'history-table cards-on-phone' }, [
        headRow(['Created', 'Command', 'Arguments', 'Answered', 'Result', 'Response']),
        el(
          'tbody',
          {},
          answered.map(({ broadcast: b, answer: a }) =>
            el('tr', { 'data-testid': 'broadcast-answer-row', 'data-broadcast-id': b.id }, [
              cardCell('Created', localDateTime(b.createdAt), { class: 'nowrap', title: b.createdBy === null ? '' : `sent by ${b.createdBy}` }),
              cardCell('Command', el('code', { class: 'nowrap' }, b.command)),
              argumentsCell(b),
              cardCell('Answered', after(b.createdAt, a.answeredAt), { class: 'num nowrap' }),
              resultCell({ ok: a.ok, state: 'answered' }),
              cardCell('Response', el('code', { class: 'json' }, jsonText(a.response)), { class: 'response' }),
            ]),
          ),
        ),
      ]),
    ),
  ]);
}

/** When a later step happened, as a delay after the command was created (absolute time as tooltip). */
function after(createdAt: number, at: number | null): HTMLElement {
  if (at === null) return el('span', { class: 'muted' }, '—');
  const ms = Math.max(0, at - createdAt);
  const text = ms < 1000 ? `${Math.round(ms)} ms` : ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
  return el('span', { title: localDateTime(at) }, `+${text}`);
}

/** The last 50 commands sent to a device with their state (pending → delivered → answered, or expired / failed). */
export class CommandHistory {
  readonly element: HTMLElement;
  private readonly deviceId: string;

  constructor(deviceId: string) {
    this.deviceId = deviceId;
    this.element = el('div', { 'data-testid': 'command-history' }, el('p', { class: 'muted' }, 'Loading…'));
  }

  async refresh(): Promise<void> {
    const [{ commands }, { broadcasts }] = await Promise.all([
      apiGet<{ commands: CommandRecord[] }>(devicePath(this.deviceId, '/commands?limit=50')),
      apiGet<{ broadcasts: AnsweredBroadcast[] }>(devicePath(this.deviceId, '/broadcasts?limit=20')),
    ]);
    const answered = broadcasts.length === 0 ? null : broadcastTable(broadcasts);
    if (commands.length === 0) {
      replaceChildren(this.element, [el('p', { class: 'empty' }, 'No commands sent yet.'), answered]);
      return;
    }
    const table = el('table', { class: 'history-table cards-on-phone' }, [
      headRow(['Created', 'Command', 'Arguments', 'State', 'Delivered', 'Answered', 'Result', 'Response']),
      el(
        'tbody',
        {},
        commands.map((c) =>
          el('tr', { 'data-testid': 'command-row', 'data-state': c.state, 'data-command': c.command, 'data-command-id': c.id }, [
            cardCell('Created', localDateTime(c.createdAt), { class: 'nowrap', title: `expires ${localDateTime(c.expiresAt)}` }),
            cardCell('Command', el('code', { class: 'nowrap' }, c.command)),
            argumentsCell(c),
            cardCell('State', el('span', { class: `badge state-${c.state}` }, c.state)),
            cardCell('Delivered', after(c.createdAt, c.deliveredAt), { class: 'num nowrap' }),
            cardCell('Answered', after(c.createdAt, c.answeredAt), { class: 'num nowrap' }),
            resultCell(c),
            cardCell('Response', el('code', { class: 'json' }, jsonText(c.response)), { class: 'response' }),
          ]),
        ),
      ),
    ]);
    replaceChildren(this.element, [scrollingTable(table), answered]);
  }
}
