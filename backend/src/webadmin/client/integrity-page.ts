import { apiGet, devicePath, query } from './api.ts';
import { actionButton, cardCell, el, headRow, replaceChildren, scrollingTable } from './dom.ts';
import { localDateTime } from './format.ts';
import { type LiveEvents, throttle } from './live.ts';
import type { BootGaps, BootIntegrity, BootSummary, DeviceIntegrity, RejectionRecord, SuspectedGap, SuspectedGapScan } from './types.ts';
import { deviceHref, durationText, section } from './widgets.ts';

const REJECTIONS_PAGE = 50;
/** Gap ranges listed per boot on request. */
const GAP_RANGES = 200;
/** Suspected gaps listed per older page on request. */
const SUSPECTED_PAGE = 200;
/** What the page says of the clock-skew flag (docs/original-devices.md §4). */
const CLOCK_SKEW_LABEL = 'clock skew: measured at a time implausible for its arrival';

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

function clockSkewCell(count: number): HTMLElement {
  return el('td', { class: count > 0 ? 'num bad' : 'num', 'data-testid': 'boot-clock-skew', title: CLOCK_SKEW_LABEL }, String(count));
}

function bootsTable(deviceId: string, boots: readonly BootIntegrity[]): HTMLElement {
  if (boots.length === 0) return el('p', { class: 'empty' }, 'No boots recorded.');
  return scrollingTable(
    el('table', { class: 'boots-table' }, [
      headRow(['Boot', 'First seen', 'Readings', 'Max seq', 'Shutdown seq', 'Missing', 'Clock skew']),
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
            clockSkewCell(boot.clockSkewed),
          ]),
        ),
      ),
    ]),
  );
}

function suspectedGapRow(gap: SuspectedGap): HTMLTableRowElement {
  return el('tr', { 'data-testid': 'suspected-gap-row' }, [
    cardCell('After', localDateTime(gap.from), { class: 'nowrap' }),
    cardCell('Before', localDateTime(gap.to), { class: 'nowrap' }),
    cardCell('Duration', durationText(gap.durationMs), { class: 'num' }),
    cardCell('Interval', durationText(gap.intervalMs), { class: 'num' }),
    cardCell('Estimated missing', String(gap.estimatedMissing), { class: 'num', 'data-testid': 'suspected-gap-missing' }),
  ]);
}

/**
 * The suspected gaps of a device without sequence numbers: inferred from the spacing of its
 * readings in measured time, labelled so, apart from the exact sequence gaps of v1 boots. The
 * report covers its newest readings; "Scan older" asks for the next page at a time.
 */
function suspectedGapsPart(deviceId: string, scan: SuspectedGapScan): HTMLElement {
  const rows = el('tbody', {}, scan.gaps.map(suspectedGapRow));
  const listed = (): number => rows.children.length;
  const totals = { gaps: scan.gapCount, missing: scan.estimatedMissing, scanned: scan.scanned, oldest: scan.from };
  const summary = el('p', { 'data-testid': 'suspected-gaps-summary' });
  const showSummary = (): void => {
    const span = totals.oldest === null ? 'no readings to judge' : `readings measured since ${localDateTime(totals.oldest)}`;
    const more = totals.gaps > listed() ? ` (${listed()} listed)` : '';
    replaceChildren(summary, [
      el('strong', { class: totals.gaps > 0 ? 'bad' : '', 'data-testid': 'suspected-gaps-count' }, `${totals.gaps} suspected gap${totals.gaps === 1 ? '' : 's'}`),
      `, about ${totals.missing} readings missing${more}, among the newest ${totals.scanned} readings (${span}).`,
    ]);
  };
  const table = el('table', { class: 'suspected-gaps-table cards-on-phone', 'data-testid': 'suspected-gaps-table' }, [headRow(['After', 'Before', 'Duration', 'Interval', 'Estimated missing']), rows]);
  let next = scan.next;
  const older: HTMLElement = actionButton('Scan older', { class: 'small', 'data-testid': 'suspected-gaps-older' }, async () => {
    if (next === null) return;
    try {
      const page = await apiGet<SuspectedGapScan>(devicePath(deviceId, `/suspected-gaps${query({ before: next, limit: SUSPECTED_PAGE, factor: scan.factor })}`));
      rows.append(...page.gaps.map(suspectedGapRow));
      totals.gaps += page.gapCount;
      totals.missing += page.estimatedMissing;
      totals.scanned += page.scanned;
      totals.oldest = page.from ?? totals.oldest;
      next = page.next;
      showSummary();
      if (next === null) older.replaceWith(el('span', { class: 'muted small', 'data-testid': 'suspected-gaps-end' }, 'scanned to the oldest reading'));
    } catch {
      // apiGet showed the error in the alert area; the button stays for another try.
    }
  });
  showSummary();
  return el('div', { class: 'suspected-gaps', 'data-testid': 'suspected-gaps' }, [
    el('h4', {}, 'Suspected gaps (inferred, not counted)'),
    el(
      'p',
      { class: 'muted small' },
      `No sequence numbers from the original software: a spacing of measured time at least ${scan.factor}× the interval around it is a suspected gap. Stopped measuring or a device clock set forward look the same.`,
    ),
    summary,
    scan.gaps.length === 0 && next === null ? null : scrollingTable(table),
    next === null ? null : older,
  ]);
}

function deviceCard(device: DeviceIntegrity): HTMLElement {
  return el('article', { class: 'integrity-device', 'data-testid': 'integrity-device', 'data-device-id': device.id }, [
    el('h3', {}, [el('a', { href: deviceHref(device.id) }, device.name ?? device.id), device.name === null ? null : el('span', { class: 'muted small' }, ` ${device.id}`)]),
    el('dl', { class: 'facts' }, [
      el('div', { class: 'fact' }, [el('dt', {}, 'Readings stored'), el('dd', { 'data-testid': 'integrity-readings' }, String(device.readings))]),
      el('div', { class: 'fact' }, [el('dt', {}, 'Duplicates absorbed'), el('dd', {}, String(device.duplicatesAbsorbed))]),
      el('div', { class: 'fact' }, [el('dt', {}, 'Missing'), el('dd', { class: device.missing > 0 ? 'bad' : '', 'data-testid': 'integrity-missing' }, String(device.missing))]),
      el('div', { class: 'fact' }, [el('dt', {}, 'Boots'), el('dd', {}, String(device.boots.length))]),
      device.unsequenced === 0 ? null : el('div', { class: 'fact' }, [el('dt', {}, 'Without sequence numbers'), el('dd', { 'data-testid': 'integrity-unsequenced' }, String(device.unsequenced))]),
      el('div', { class: 'fact', title: CLOCK_SKEW_LABEL }, [
        el('dt', {}, 'Clock skew'),
        el('dd', { class: device.clockSkewed > 0 ? 'bad' : '', 'data-testid': 'integrity-clock-skew' }, [String(device.clockSkewed), el('div', { class: 'muted small' }, CLOCK_SKEW_LABEL)]),
      ]),
    ]),
    device.boots.length === 0 && device.unsequenced > 0 ? null : bootsTable(device.id, device.boots),
    device.suspectedGaps === null ? null : suspectedGapsPart(device.id, device.suspectedGaps),
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

/** Devices per page of the integrity report: each may cost a bounded scan for suspected gaps. */
const DEVICES_PAGE = 20;

/** The integrity report a page of devices at a time (by id), searchable by id or name. */
class IntegrityDevices {
  readonly element: HTMLElement;
  private readonly list = el('div', { class: 'integrity-devices', 'data-testid': 'integrity-devices' }, el('p', { class: 'muted' }, 'Loading…'));
  private readonly pager = el('div', { class: 'pager', 'data-testid': 'integrity-pager' });
  private readonly search = el('input', { type: 'search', maxlength: 100, placeholder: 'Search id or name', 'aria-label': 'Search devices by id or name', 'data-testid': 'integrity-search' });
  private offset = 0;
  private latestLoad = 0;

  constructor(onSearch: () => void) {
    let pause: ReturnType<typeof setTimeout> | undefined;
    this.search.addEventListener('input', () => {
      clearTimeout(pause);
      pause = setTimeout(() => {
        this.offset = 0;
        onSearch();
      }, 250);
    });
    this.element = el('div', {}, [el('div', { class: 'fleet-controls' }, [this.search]), this.list, this.pager]);
  }

  async show(offset = this.offset): Promise<void> {
    const mine = ++this.latestLoad;
    const q = this.search.value.trim();
    const answer = await apiGet<{ devices: DeviceIntegrity[]; total: number }>(`/api/integrity${query({ q: q === '' ? undefined : q, limit: DEVICES_PAGE, offset })}`);
    if (mine !== this.latestLoad) return;
    if (answer.devices.length === 0 && answer.total > 0 && offset > 0) {
      await this.show(Math.floor((answer.total - 1) / DEVICES_PAGE) * DEVICES_PAGE);
      return;
    }
    this.offset = offset;
    replaceChildren(this.list, answer.devices.length === 0 ? el('p', { class: 'empty' }, q === '' ? 'No devices yet.' : 'No device matches the search.') : answer.devices.map(deviceCard));
    const previous = el('button', { type: 'button', disabled: offset === 0, 'data-testid': 'integrity-previous' }, '‹ Previous');
    const next = el('button', { type: 'button', disabled: offset + answer.devices.length >= answer.total, 'data-testid': 'integrity-next' }, 'Next ›');
    previous.addEventListener('click', () => void this.show(Math.max(0, offset - DEVICES_PAGE)));
    next.addEventListener('click', () => void this.show(offset + DEVICES_PAGE));
    const range = answer.devices.length === 0 ? `0 of ${answer.total}` : `${offset + 1}–${offset + answer.devices.length} of ${answer.total} devices`;
    replaceChildren(this.pager, answer.total <= DEVICES_PAGE && offset === 0 ? [] : [previous, next, el('span', { class: 'muted', 'data-testid': 'integrity-range' }, range)]);
  }
}

/** Data integrity: what was stored, absorbed as duplicates, is missing per boot or suspected missing (no sequence numbers), carries the clock-skew flag, and what was rejected. */
export function renderIntegrityPage(main: HTMLElement, live: LiveEvents): void {
  const devices: IntegrityDevices = new IntegrityDevices(() => void devices.show(0));
  const rejections = new RejectionsTable();
  replaceChildren(main, [el('h1', {}, 'Data integrity'), section('Devices', {}, [devices.element]), section('Rejected messages', {}, [rejections.element])]);

  const refreshDevices = throttle(() => devices.show(), 5000);
  live.on('readings', refreshDevices).on('device', refreshDevices).onResync(refreshDevices);
  refreshDevices();
  void rejections.show(0);
}
