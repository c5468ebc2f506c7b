import { apiGet, devicePath, query } from './api.ts';
import { el, headRow, replaceChildren, scrollingTable } from './dom.ts';
import { formatValue, localDateTime } from './format.ts';
import type { TimeRange } from './range-picker.ts';
import type { Reading, ReadingsPage } from './types.ts';

const PAGE_SIZE = 50;

/**
 * A device's readings in a range, 50 per page, newest first: what an operator looks for, and
 * where live readings arrive. The API pages with a keyset cursor (`after` = the `next` of the
 * previous page), so going back means remembering the cursors that led here.
 */
export class ReadingsTable {
  readonly element: HTMLElement;
  private readonly deviceId: string;
  private readonly body = el('div', { class: 'readings-body' });
  private readonly status = el('span', { class: 'muted', 'data-testid': 'reading-count' });
  private readonly first = el('button', { type: 'button', 'data-testid': 'readings-first' }, '« Newest');
  private readonly previous = el('button', { type: 'button', 'data-testid': 'readings-previous' }, '‹ Newer');
  private readonly nextButton = el('button', { type: 'button', 'data-testid': 'readings-next' }, 'Older ›');
  /** `after` of each page up to the current one; [undefined] is the first page. */
  private cursors: Array<string | undefined> = [undefined];
  private next: string | null = null;
  private range: TimeRange = { from: undefined, to: undefined, endsNow: true };

  constructor(deviceId: string) {
    this.deviceId = deviceId;
    this.first.addEventListener('click', () => void this.goTo([undefined]));
    this.previous.addEventListener('click', () => void this.goTo(this.cursors.slice(0, -1)));
    this.nextButton.addEventListener('click', () => {
      if (this.next !== null) void this.goTo([...this.cursors, this.next]);
    });
    this.element = el('div', { class: 'readings' }, [this.body, el('div', { class: 'pager' }, [this.first, this.previous, this.nextButton, this.status])]);
  }

  /** Shows the first page of `range`. */
  show(range: TimeRange): Promise<void> {
    this.range = range;
    return this.goTo([undefined]);
  }

  /**
   * After new readings: refetch the first page, where they arrive; a reader on an older page is
   * left where they are.
   */
  refreshIfAffected(range: TimeRange): Promise<void> {
    if (this.cursors.length > 1) return Promise.resolve();
    this.range = range;
    return this.goTo(this.cursors);
  }

  private async goTo(cursors: Array<string | undefined>): Promise<void> {
    const after = cursors.at(-1);
    const page = await apiGet<ReadingsPage>(
      devicePath(this.deviceId, `/readings${query({ from: this.range.from, to: this.range.to, limit: PAGE_SIZE, order: 'desc', after })}`),
    );
    this.cursors = cursors.length === 0 ? [undefined] : cursors;
    this.next = page.next;
    this.render(page.readings);
  }

  private render(readings: readonly Reading[]): void {
    const pageNumber = this.cursors.length;
    this.first.disabled = pageNumber === 1;
    this.previous.disabled = pageNumber === 1;
    this.nextButton.disabled = this.next === null;
    this.status.textContent = `page ${pageNumber}, ${readings.length} reading${readings.length === 1 ? '' : 's'}, newest first`;
    this.status.dataset.count = String(readings.length);
    if (readings.length === 0) {
      replaceChildren(this.body, el('p', { class: 'empty', 'data-testid': 'readings-empty' }, 'No readings in this range.'));
      return;
    }
    const names = [...new Set(readings.flatMap((r) => Object.keys(r.values)))].sort();
    const table = el('table', { class: 'readings-table', 'data-testid': 'readings-table' }, [
      headRow(['#', 'Measured', 'Received', 'Boot', 'Seq', ...names]),
      el(
        'tbody',
        {},
        readings.map((r) =>
          el('tr', { 'data-testid': 'reading-row', 'data-reading-id': r.id }, [
            el('td', { class: 'num' }, String(r.id)),
            el('td', { class: 'nowrap' }, localDateTime(r.measuredAt)),
            el('td', { class: 'nowrap' }, localDateTime(r.receivedAt)),
            el('td', {}, el('code', { class: 'nowrap' }, r.bootId ?? '—')),
            el('td', { class: 'num' }, r.seq === null ? '—' : String(r.seq)),
            // Field names are data: only the reading's own fields count (`constructor` is not Object's).
            ...names.map((name) => valueCell(Object.hasOwn(r.values, name) ? r.values[name] : undefined)),
          ]),
        ),
      ),
    ]);
    replaceChildren(this.body, scrollingTable(table));
  }
}

/**
 * One value's cell: numbers right-aligned; text (original devices' values, docs/protocol.md §9)
 * as a text node through el(), since it is untrusted, marked so a reader sees it is not a number.
 */
function valueCell(value: unknown): HTMLElement {
  if (value === undefined) return el('td', { class: 'num' }, '');
  if (typeof value === 'number') return el('td', { class: 'num' }, formatValue(value));
  return el('td', { class: 'text-value', 'data-value-kind': 'text' }, formatValue(value));
}
