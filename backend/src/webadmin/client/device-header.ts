import { apiPut, devicePath } from './api.ts';
import { actionButton, el, replaceChildren } from './dom.ts';
import { formatValue, localDateTime, relativeTimeLabel } from './format.ts';
import type { DeviceDetail } from './types.ts';
import { displayName, measuringText, presenceBadge, statusOf, valueList } from './widgets.ts';

function fact(label: string, value: Node | string, testid?: string, wide = false): HTMLElement {
  return el('div', { class: wide ? 'fact fact-wide' : 'fact' }, [el('dt', {}, label), el('dd', testid === undefined ? {} : { 'data-testid': testid }, value)]);
}

function memoryText(redis: { used_memory?: number; maxmemory?: number; full?: boolean } | undefined): string {
  if (redis?.used_memory === undefined) return '—';
  const mb = (bytes: number) => `${formatValue(bytes / 1048576)} MB`;
  const of = redis.maxmemory === undefined || redis.maxmemory === 0 ? '' : ` of ${mb(redis.maxmemory)}`;
  return `${mb(redis.used_memory)}${of}${redis.full ? ' (full)' : ''}`;
}

/** Name, presence, latest reading and last status of one device, and renaming it (admins). */
export class DeviceHeader {
  readonly element: HTMLElement;
  private readonly deviceId: string;
  private readonly title = el('h1', { 'data-testid': 'device-name' });
  private readonly facts = el('dl', { class: 'facts' });
  private readonly nameInput: HTMLInputElement;
  private editingName = false;

  constructor(deviceId: string, isAdmin: boolean, onRenamed: () => void) {
    this.deviceId = deviceId;
    this.title.textContent = deviceId;
    const disabled = !isAdmin;
    this.nameInput = el('input', { type: 'text', id: 'device-rename', maxlength: 100, placeholder: 'display name', 'data-testid': 'rename-input', disabled });
    this.nameInput.addEventListener('input', () => (this.editingName = true));
    const rename = async (name: string | null) => {
      await apiPut(devicePath(deviceId, '/name'), { name });
      this.editingName = false;
      onRenamed();
    };
    const form = el('form', { class: 'inline-form rename' }, [
      el('label', { for: 'device-rename' }, 'Name'),
      this.nameInput,
      el('button', { type: 'submit', 'data-testid': 'rename-save', disabled }, 'Rename'),
      actionButton('Clear name', { 'data-testid': 'rename-clear', disabled }, () => rename(null).catch(() => {})),
    ]);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const name = this.nameInput.value.trim();
      void rename(name === '' ? null : name).catch(() => {});
    });
    this.element = el('div', { class: 'device-header card' }, [this.title, el('p', { class: 'muted small' }, ['id ', el('code', { 'data-testid': 'device-id' }, deviceId)]), this.facts, form]);
  }

  update(detail: DeviceDetail): void {
    const { device } = detail;
    const status = statusOf(device);
    this.title.textContent = displayName(device);
    document.title = `${displayName(device)} · IoT admin`;
    if (!this.editingName && document.activeElement !== this.nameInput) this.nameInput.value = device.name ?? '';
    const { latest } = detail;
    replaceChildren(this.facts, [
      fact(
        'Latest reading',
        latest === null ? el('span', { class: 'muted' }, 'none yet') : el('div', {}, [valueList(latest.values), el('div', { class: 'muted small' }, `measured ${localDateTime(latest.measuredAt)}`)]),
        'latest-reading',
        true,
      ),
      fact('Status', presenceBadge(detail.presence)),
      fact('Last seen', relativeTimeLabel(device.lastSeenAt, { 'data-testid': 'last-seen' })),
      fact('Measuring', measuringText(status), 'measuring'),
      fact('Backlog', status.backlog === undefined ? '—' : String(status.backlog), 'backlog'),
      fact('Confirmed', el('code', { class: 'nowrap' }, status.confirmed ?? '—')),
      fact('Redis memory', memoryText(status.redis)),
      fact('Protocol', `${device.protocol}${device.deviceType === null ? '' : ` · ${device.deviceType}`}`),
      fact('First seen', localDateTime(device.firstSeenAt)),
      fact('Status at', localDateTime(device.statusAt)),
    ]);
    this.element.dataset.deviceId = this.deviceId;
  }
}
