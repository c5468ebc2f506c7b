import { apiGet, devicePath, query } from './api.ts';
import { actionButton, cardCell, el, headRow, replaceChildren, scrollingTable } from './dom.ts';
import { localDateTime } from './format.ts';
import { type LiveEvents, throttle } from './live.ts';
import type { BootGaps, BootSummary, DeviceIntegrity, RejectionRecord } from './types.ts';
import { deviceHref, section } from './widgets.ts';

const REJECTIONS_PAGE = 50;
/** Gap ranges listed per boot on request. */
const GAP_RANGES = 200;

function rangesText(boot: BootGaps): string {
  if (boot.missing.length === 0) return 'none';
  const text = boot.missing.map((m) => (m.from === m.to ? String(m.from) : `${m.from}–${m.to}`)).join(', ');
  const listed = boot.missing.reduce((n, m) => n + m.to - m.from + 1, 0);
  return listed < boot.missingCount ? `${text}, … (${boot.missingCount - listed} more)` : text;
}

/**
 * The missing count of a boot, and for a boot that misses some, a button that lists which
 * numbers: the report carries counts only, the ranges are asked for one boot at a time.
 */
function missingCell(deviceId: string, boot: BootSummary): HTMLElement {
  if (boot.missingCount === 0) return el('td', {}, 'none');
  const cell = el('td', { class: 'bad', 'data-testid': 'boot-missing' });
  const list = actionButton('List', { class: 'small', 'data-testid': 'boot-missing-list' }, async () => {
    try {
      const { boots } = await apiGet<{ boots: BootGaps[] }>(devicePath(deviceId, `/gaps${query({ boot: boot.bootId, limit: GAP_RANGES })}`));
      const found = boots[0];
      if (found !== undefined) replaceChildren(cell, el('span', { 'data-testid': 'boot-missing-ranges' }, rangesText(found)));
    } catch {
      // apiGet showed the error in the alert area; the button stays for another try.
    }
  });
  replaceChildren(cell, [`${boot.missingCount} `, list]);
  return cell;
}

function bootsTable(deviceId: string, boots: readonly BootSummary[]): HTMLElement {
  if (boots.length === 0) return el('p', { class: 'empty' }, 'No boots recorded.');
  return scrollingTable(
    el('table', { class: 'boots-table' }, [
      headRow(['Boot', 'First seen', 'Readings', 'Max seq', 'Shutdown seq', 'Missing']),
      el(
        'tbody',
        {},
        boots.map((boot) =>
          el('tr', { 'data-testid': 'boot-row', 'data-boot-id': boot.bootId, class: boot.missingCount > 0 ? 'row-drift' : null }, [
            el('td', {}, el('code', { class: 'nowrap' }, boot.bootId)),
            el('td', { class: 'nowrap' }, localDateTime(boot.firstSeenAt)),
            el('td', { class: 'num' }, String(boot.readings)),
            el('td', { class: 'num' }, boot.maxSeq === null ? '—' : String(boot.maxSeq)),
            el('td', { class: 'num' }, boot.shutdownSeq === null ? 'none (running or cut)' : String(boot.shutdownSeq)),
            missingCell(deviceId, boot),
          ]),
        ),
      ),
    ]),
  );
}

function deviceCard(device: DeviceIntegrity): HTMLElement {
  return el('article', { class: 'integrity-device', 'data-testid': 'integrity-device', 'data-device-id': device.id }, [
    el('h3', {}, [el('a', { href: deviceHref(device.id) }, device.name ?? device.id), device.name === null ? null : el('span', { class: 'muted small' }, ` ${device.id}`)]),
    el('dl', { class: 'facts' }, [
      el('div', { class: 'fact' }, [el('dt', {}, 'Readings stored'), el('dd', { 'data-testid': 'integrity-readings' }, String(device.readings))]),
      el('div', { class: 'fact' }, [el('dt', {}, 'Duplicates absorbed'), el('dd', {}, String(device.duplicatesAbsorbed))]),
      el('div', { class: 'fact' }, [el('dt', {}, 'Missing'), el('dd', { class: device.missing > 0 ? 'bad' : '', 'data-testid': 'integrity-missing' }, String(device.missing))]),
      el('div', { class: 'fact' }, [el('dt', {}, 'Boots'), el('dd', {}, String(device.boots.length))]),
    ]),
    bootsTable(device.id, device.boots),
  ]);
}

/** Rejected messages, newest first as the API lists them, paged by offset. */
class RejectionsTable {
  readonly element = el('div', { 'data-testid': 'rejections' });
  private offset = 0;

  async show(offset = this.offset): Promise<void> {
    const { rejections, total } = await apiGet<{ rejections: RejectionRecord[]; total: number }>(`/api/rejections${query({ limit: REJECTIONS_PAGE, offset })}`);
    this.offset = offset;
    const previous = el('button', { type: 'button', disabled: offset === 0, 'data-testid': 'rejections-previous' }, '‹ Previous');
    const next = el('button', { type: 'button', disabled: offset + rejections.length >= total, 'data-testid': 'rejections-next' }, 'Next ›');
    previous.addEventListener('click', () => void this.show(Math.max(0, offset - REJECTIONS_PAGE)));
    next.addEventListener('click', () => void this.show(offset + REJECTIONS_PAGE));
    const range = rejections.length === 0 ? `0 of ${total}` : `${offset + 1}–${offset + rejections.length} of ${total}`;
    const pager = el('div', { class: 'pager' }, [previous, next, el('span', { class: 'muted', 'data-testid': 'rejections-range' }, range)]);
    if (rejections.length === 0) {
      replaceChildren(this.element, [el('p', { class: 'empty' }, 'No rejected messages.'), total > 0 ? pager : null]);
      return;
    }
    const table = el('table', { class: 'rejections-table cards-on-phone' }, [
      headRow(['Received', 'Device', 'Topic', 'Reason', 'Detail', 'Payload (excerpt)', 'Bytes']),
      el(
        'tbody',
        {},
        rejections.map((r) =>
          el('tr', { 'data-testid': 'rejection-row' }, [
            cardCell('Received', localDateTime(r.receivedAt), { class: 'nowrap' }),
            cardCell('Device', r.deviceId ?? '—'),
            cardCell('Topic', el('code', {}, r.topic)),
            cardCell('Reason', el('span', { class: 'badge state-failed' }, r.reason)),
            cardCell('Detail', r.detail, { class: 'detail' }),
            cardCell('Payload', el('code', { class: 'json' }, r.payloadExcerpt)),
            cardCell('Bytes', String(r.payloadBytes), { class: 'num' }),
          ]),
        ),
      ),
    ]);
    replaceChildren(this.element, [scrollingTable(table), pager]);
  }
}

/** Data integrity: what was stored, absorbed as duplicates and is missing per boot, and what was rejected. */
export function renderIntegrityPage(main: HTMLElement, live: LiveEvents): void {
  const devices = el('div', { class: 'integrity-devices', 'data-testid': 'integrity-devices' }, el('p', { class: 'muted' }, 'Loading…'));
  const rejections = new RejectionsTable();
  replaceChildren(main, [el('h1', {}, 'Data integrity'), section('Devices', {}, [devices]), section('Rejected messages', {}, [rejections.element])]);

  const loadDevices = async (): Promise<void> => {
    const answer = await apiGet<{ devices: DeviceIntegrity[] }>('/api/integrity');
    replaceChildren(devices, answer.devices.length === 0 ? el('p', { class: 'empty' }, 'No devices yet.') : answer.devices.map(deviceCard));
  };
  const refreshDevices = throttle(loadDevices, 5000);
  live.on('readings', refreshDevices).on('device', refreshDevices).onResync(refreshDevices);
  refreshDevices();
  void rejections.show(0);
}
