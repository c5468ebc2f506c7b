import { el } from './dom.ts';

export type FleetSort = 'name' | 'id' | 'last-seen' | 'readings' | 'status';
export type PresenceFilter = '' | 'online' | 'offline' | 'stale' | 'unknown';
export type DriftFilter = '' | 'drifting' | 'in-sync';

/** What the fleet page asks GET /api/fleet for; kept in the address so a reload or a shared link shows the same page. */
export interface FleetView {
  q: string;
  status: PresenceFilter;
  drift: DriftFilter;
  sort: FleetSort;
  order: 'asc' | 'desc';
  offset: number;
}

export const FLEET_PAGE_SIZE = 50;

const SORTS: ReadonlyArray<[FleetSort, string]> = [
  ['name', 'Name'],
  ['id', 'Device id'],
  ['last-seen', 'Last seen'],
  ['readings', 'Readings'],
  ['status', 'Status'],
];
const STATUSES: ReadonlyArray<[PresenceFilter, string]> = [
  ['', 'Any status'],
  ['online', 'Online'],
  ['offline', 'Offline'],
  ['stale', 'Stale'],
  ['unknown', 'Unknown (no status yet)'],
];
const DRIFTS: ReadonlyArray<[DriftFilter, string]> = [
  ['', 'Any configuration'],
  ['drifting', 'Drifting'],
  ['in-sync', 'In sync'],
];

/** Newest or most first: what an operator wants on the first click of these columns. */
export function defaultOrder(sort: FleetSort): 'asc' | 'desc' {
  return sort === 'last-seen' || sort === 'readings' ? 'desc' : 'asc';
}

const pick = <T extends string>(options: ReadonlyArray<[T, string]>, value: string | null, fallback: T): T => options.find(([v]) => v === value)?.[0] ?? fallback;

/** The view named in the address (`?q=…&status=…`), anything unknown left at its default. */
export function viewFromLocation(search: string): FleetView {
  const params = new URLSearchParams(search);
  const sort = pick(SORTS, params.get('sort'), 'name');
  const offset = Number(params.get('offset') ?? 0);
  return {
    q: (params.get('q') ?? '').slice(0, 100),
    status: pick(STATUSES, params.get('status'), ''),
    drift: pick(DRIFTS, params.get('drift'), ''),
    sort,
    order: params.get('order') === 'desc' ? 'desc' : 'asc',
    offset: Number.isSafeInteger(offset) && offset > 0 ? offset - (offset % FLEET_PAGE_SIZE) : 0,
  };
}

/** The view's query for the API and the address: defaults left out. */
export function viewQuery(view: FleetView): Record<string, string | number | undefined> {
  return {
    q: view.q.trim() === '' ? undefined : view.q.trim(),
    status: view.status === '' ? undefined : view.status,
    drift: view.drift === '' ? undefined : view.drift,
    sort: view.sort === 'name' ? undefined : view.sort,
    // Ascending is the API's default (not the first click's on every column, see defaultOrder).
    order: view.order === 'asc' ? undefined : view.order,
    offset: view.offset === 0 ? undefined : view.offset,
  };
}

function select<T extends string>(options: ReadonlyArray<[T, string]>, value: T, attributes: Record<string, string>): HTMLSelectElement {
  return el(
    'select',
    attributes,
    options.map(([v, label]) => el('option', { value: v, selected: v === value }, label)),
  );
}

/** How long typing must pause before the search runs (one request per pause, not per key). */
const SEARCH_PAUSE_MS = 250;

/**
 * The fleet page's search box, filters and sort choice. Each change calls `onChange` with the
 * new view, back on the first page; `sync` shows a view changed elsewhere (a column title).
 */
export function fleetControls(view: FleetView, onChange: (view: FleetView) => void): { element: HTMLElement; sync: () => void } {
  const search = el('input', {
    type: 'search',
    value: view.q,
    maxlength: 100,
    placeholder: 'Search id or name',
    'aria-label': 'Search devices by id or name',
    'data-testid': 'fleet-search',
  });
  const status = select(STATUSES, view.status, { 'aria-label': 'Filter by status', 'data-testid': 'fleet-status' });
  const drift = select(DRIFTS, view.drift, { 'aria-label': 'Filter by configuration drift', 'data-testid': 'fleet-drift' });
  const sort = select(SORTS, view.sort, { 'aria-label': 'Sort by', 'data-testid': 'fleet-sort' });
  const order = el('button', { type: 'button', class: 'icon', 'data-testid': 'fleet-order' });
  const showOrder = (): void => {
    order.textContent = view.order === 'asc' ? '↑ ascending' : '↓ descending';
  };
  showOrder();
  const change = (next: Partial<FleetView>): void => {
    Object.assign(view, next, { offset: 0 });
    showOrder();
    onChange(view);
  };
  let pause: ReturnType<typeof setTimeout> | undefined;
  search.addEventListener('input', () => {
    clearTimeout(pause);
    pause = setTimeout(() => change({ q: search.value }), SEARCH_PAUSE_MS);
  });
  status.addEventListener('change', () => change({ status: status.value as PresenceFilter }));
  drift.addEventListener('change', () => change({ drift: drift.value as DriftFilter }));
  sort.addEventListener('change', () => change({ sort: sort.value as FleetSort, order: defaultOrder(sort.value as FleetSort) }));
  order.addEventListener('click', () => change({ order: view.order === 'asc' ? 'desc' : 'asc' }));
  const form = el('form', { class: 'fleet-controls toolbar card', role: 'search', 'data-testid': 'fleet-controls' }, [
    search,
    status,
    drift,
    el('label', { class: 'inline-label' }, ['Sort ', sort]),
    order,
  ]);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    clearTimeout(pause);
    change({ q: search.value });
  });
  const sync = (): void => {
    sort.value = view.sort;
    showOrder();
  };
  return { element: form, sync };
}

/** A column title that sorts by `sort` when clicked (again: the other way round), with aria-sort on its cell. */
export function sortableHead(title: string, sort: FleetSort, view: FleetView, onChange: (view: FleetView) => void): HTMLTableCellElement {
  const active = view.sort === sort;
  const button = el('button', { type: 'button', class: 'sort-button', 'data-testid': `sort-${sort}` }, [title, active ? (view.order === 'asc' ? ' ▲' : ' ▼') : '']);
  button.addEventListener('click', () => {
    Object.assign(view, { sort, order: active ? (view.order === 'asc' ? 'desc' : 'asc') : defaultOrder(sort), offset: 0 });
    onChange(view);
  });
  return el('th', { scope: 'col', 'aria-sort': active ? (view.order === 'asc' ? 'ascending' : 'descending') : 'none' }, button);
}

/** « First ‹ Previous · Next › Last » and "51–100 of 5000" for a page of `shown` devices at `offset` of `total`. */
export function fleetPager(view: FleetView, shown: number, total: number, onChange: (view: FleetView) => void): HTMLElement {
  const go = (offset: number): void => {
    view.offset = Math.max(0, offset);
    onChange(view);
  };
  const last = Math.max(0, Math.ceil(total / FLEET_PAGE_SIZE) - 1) * FLEET_PAGE_SIZE;
  const button = (label: string, testid: string, offset: number, disabled: boolean): HTMLButtonElement => {
    const b = el('button', { type: 'button', disabled, 'data-testid': testid }, label);
    b.addEventListener('click', () => go(offset));
    return b;
  };
  const range = shown === 0 ? `0 of ${total}` : `${view.offset + 1}–${view.offset + shown} of ${total}`;
  return el('div', { class: 'pager', 'data-testid': 'fleet-pager' }, [
    button('« First', 'fleet-first', 0, view.offset === 0),
    button('‹ Previous', 'fleet-previous', view.offset - FLEET_PAGE_SIZE, view.offset === 0),
    button('Next ›', 'fleet-next', view.offset + FLEET_PAGE_SIZE, view.offset + shown >= total),
    button('Last »', 'fleet-last', last, view.offset + shown >= total),
    el('span', { class: 'muted', 'data-testid': 'fleet-range' }, range),
  ]);
}
