import { apiPut, devicePath, showError } from './api.ts';
import { actionButton, el, headRow, replaceChildren, scrollingTable } from './dom.ts';
import { localDateTime } from './format.ts';
import type { DeviceDetail } from './types.ts';
import { breakableName, driftOf } from './widgets.ts';

/**
 * The desired configuration as editable key/value rows, next to what the device reported, with
 * differing keys highlighted and the device's errors. Live updates refresh the comparison but
 * leave rows alone while the operator has unsaved edits.
 */
export class ConfigEditor {
  readonly element: HTMLElement;
  private readonly deviceId: string;
  private readonly isAdmin: boolean;
  private readonly onSaved: () => void;
  private readonly rows = el('div', { class: 'config-rows' });
  private readonly comparison = el('div', { 'data-testid': 'config-comparison' });
  private readonly message = el('p', { class: 'muted small', 'aria-live': 'polite', 'data-testid': 'desired-config-status' });
  private dirty = false;

  constructor(deviceId: string, isAdmin: boolean, onSaved: () => void) {
    this.deviceId = deviceId;
    this.isAdmin = isAdmin;
    this.onSaved = onSaved;
    const disabled = !isAdmin;
    const add = el('button', { type: 'button', 'data-testid': 'desired-config-add', disabled }, '+ Add setting');
    add.addEventListener('click', () => {
      this.dirty = true;
      const row = this.row('', '');
      this.rows.append(row);
      row.querySelector('input')?.focus();
    });
    const save = actionButton('Save desired configuration', { class: 'primary', 'data-testid': 'desired-config-save', disabled }, () => this.save());
    this.element = el('div', { class: 'config-grid' }, [
      el('div', { class: 'config-editor', 'data-testid': 'desired-config' }, [
        el('h3', {}, 'Desired'),
        disabled ? el('p', { class: 'note' }, 'Changing the configuration needs the admin role.') : null,
        this.rows,
        el('div', { class: 'button-row' }, [add, save]),
        this.message,
      ]),
      el('div', { class: 'config-reported' }, [el('h3', {}, 'Desired vs reported'), this.comparison]),
    ]);
  }

  /** Shows the device's current desired and reported configuration. */
  update(detail: DeviceDetail): void {
    const desired = detail.desiredConfig?.config ?? {};
    if (!this.dirty) replaceChildren(this.rows, Object.entries(desired).map(([key, value]) => this.row(key, value)));
    this.renderComparison(detail);
  }

  private row(key: string, value: string): HTMLElement {
    const disabled = !this.isAdmin;
    const keyInput = el('input', { type: 'text', value: key, placeholder: 'key, e.g. measurement:interval', 'aria-label': 'Key', class: 'config-key', maxlength: 100, disabled });
    const valueInput = el('input', { type: 'text', value, placeholder: 'value', 'aria-label': 'Value', class: 'config-value', maxlength: 1000, disabled });
    const remove = el('button', { type: 'button', class: 'icon', 'aria-label': 'Remove setting', title: 'Remove', disabled }, '×');
    const row = el('div', { class: 'config-row', 'data-testid': 'desired-config-row' }, [keyInput, valueInput, remove]);
    for (const input of [keyInput, valueInput]) input.addEventListener('input', () => (this.dirty = true));
    remove.addEventListener('click', () => {
      this.dirty = true;
      row.remove();
    });
    return row;
  }

  private async save(): Promise<void> {
    // Keys are data: collected in a Map, so a key `__proto__` or `constructor` is just a key.
    const config = new Map<string, string>();
    for (const row of this.rows.querySelectorAll('.config-row')) {
      const key = row.querySelector<HTMLInputElement>('.config-key')?.value.trim() ?? '';
      const value = row.querySelector<HTMLInputElement>('.config-value')?.value ?? '';
      if (key === '') continue;
      if (config.has(key)) {
        showError(`the key "${key}" appears twice`);
        return;
      }
      config.set(key, value);
    }
    try {
      const { version } = await apiPut<{ version: number }>(devicePath(this.deviceId, '/desired-config'), { config: Object.fromEntries(config) });
      this.dirty = false;
      this.message.textContent = `saved as version ${version}; the device applies it when it is online`;
      this.onSaved();
    } catch {
      this.message.textContent = 'not saved';
    }
  }

  private renderComparison(detail: DeviceDetail): void {
    const desired = detail.desiredConfig?.config ?? {};
    const reported = detail.reportedConfig?.config ?? {};
    const drifting = new Set(driftOf(detail.desiredConfig?.config, detail.reportedConfig?.config).map((d) => d.key));
    const keys = [...new Set([...Object.keys(desired), ...Object.keys(reported)])].sort();
    const versions = el('p', { class: 'muted small' }, [
      `desired v${detail.desiredConfig?.version ?? '–'}`,
      detail.desiredConfig?.updatedAt === undefined ? '' : ` (${localDateTime(detail.desiredConfig.updatedAt)})`,
      ` · reported v${detail.reportedConfig?.version ?? '–'}`,
      detail.reportedConfig?.reportedAt === undefined ? '' : ` (${localDateTime(detail.reportedConfig.reportedAt)})`,
      drifting.size === 0 ? ' · in sync' : ` · ${drifting.size} key${drifting.size === 1 ? '' : 's'} differ`,
    ]);
    const table =
      keys.length === 0
        ? el('p', { class: 'empty' }, 'No configuration desired or reported yet.')
        : scrollingTable(
            el('table', { class: 'config-table' }, [
              headRow(['Key', 'Desired', 'Reported']),
              el(
                'tbody',
                {},
                keys.map((key) =>
                  el('tr', { class: drifting.has(key) ? 'row-drift' : null, 'data-drift': drifting.has(key) ? 'true' : 'false' }, [
                    el('td', {}, el('code', { class: 'breakable' }, breakableName(key))),
                    el('td', {}, Object.hasOwn(desired, key) ? (desired[key] ?? '') : el('span', { class: 'muted' }, '—')),
                    el('td', {}, Object.hasOwn(reported, key) ? (reported[key] ?? '') : el('span', { class: 'muted' }, '—')),
                  ]),
                ),
              ),
            ]),
          );
    const errors = detail.reportedConfig?.errors ?? [];
    const errorList =
      errors.length === 0
        ? null
        : el('div', { class: 'config-errors', 'data-testid': 'config-errors' }, [
            el('h4', {}, 'The device refused'),
            el(
              'ul',
              {},
              errors.map((e) => el('li', {}, [el('code', {}, e.key), ` ${e.code}: ${e.message}`])),
            ),
          ]);
    replaceChildren(this.comparison, [versions, table, errorList]);
  }
}
