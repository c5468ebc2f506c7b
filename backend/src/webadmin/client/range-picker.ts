import { showError } from './api.ts';
import { el } from './dom.ts';
import { fromDateTimeLocal, toDateTimeLocal } from './format.ts';

const HOUR = 3600_000;
const PRESETS = [
  { key: '1h', label: '1 h', span: HOUR },
  { key: '6h', label: '6 h', span: 6 * HOUR },
  { key: '24h', label: '24 h', span: 24 * HOUR },
  { key: '7d', label: '7 d', span: 7 * 24 * HOUR },
  { key: '30d', label: '30 d', span: 30 * 24 * HOUR },
  { key: 'all', label: 'All', span: undefined },
] as const;

export type RangeKey = (typeof PRESETS)[number]['key'] | 'custom';

/** A time range resolved at one instant: bounds in epoch ms (undefined = open). */
export interface TimeRange {
  from: number | undefined;
  to: number | undefined;
  /** The range follows the present, so new readings belong in it. */
  endsNow: boolean;
}

/**
 * The range selector of the device page: last 1 h … 30 d, all, or a custom from/to. A preset is
 * relative, so it is resolved again at each refresh and keeps following the present.
 */
export class RangePicker {
  readonly element: HTMLElement;
  private selected: RangeKey = '24h';
  private customFrom: number | undefined;
  private customTo: number | undefined;
  private readonly buttons = new Map<RangeKey, HTMLButtonElement>();
  private readonly fromInput: HTMLInputElement;
  private readonly toInput: HTMLInputElement;
  private readonly onChange: () => void;

  constructor(onChange: () => void) {
    this.onChange = onChange;
    const presetButtons = PRESETS.map((preset) => {
      const button = el('button', { type: 'button', class: 'segment', 'data-testid': `range-${preset.key}` }, preset.label);
      button.addEventListener('click', () => this.select(preset.key));
      this.buttons.set(preset.key, button);
      return button;
    });
    this.fromInput = el('input', { type: 'datetime-local', id: 'range-from', 'data-testid': 'range-from' });
    this.toInput = el('input', { type: 'datetime-local', id: 'range-to', 'data-testid': 'range-to' });
    const apply = el('button', { type: 'submit', 'data-testid': 'range-apply' }, 'Apply');
    const custom = el('form', { class: 'range-custom field-grid' }, [
      el('label', { for: 'range-from' }, 'From'),
      this.fromInput,
      el('label', { for: 'range-to' }, 'To'),
      this.toInput,
      apply,
    ]);
    custom.addEventListener('submit', (event) => {
      event.preventDefault();
      const from = fromDateTimeLocal(this.fromInput.value);
      const to = fromDateTimeLocal(this.toInput.value);
      if (from !== undefined && to !== undefined && from > to) {
        showError('the range starts after it ends');
        return;
      }
      this.customFrom = from;
      this.customTo = to;
      this.select('custom');
    });
    this.element = el('div', { class: 'range-picker', 'data-testid': 'range-picker' }, [
      el('div', { class: 'segments', role: 'group', 'aria-label': 'Time range' }, presetButtons),
      custom,
    ]);
    this.mark();
  }

  get key(): RangeKey {
    return this.selected;
  }

  /** The selected range as of `now`. */
  resolve(now: number = Date.now()): TimeRange {
    if (this.selected === 'custom') return { from: this.customFrom, to: this.customTo, endsNow: this.customTo === undefined };
    const preset = PRESETS.find((p) => p.key === this.selected);
    const span = preset?.span;
    return { from: span === undefined ? undefined : now - span, to: undefined, endsNow: true };
  }

  private select(key: RangeKey): void {
    this.selected = key;
    if (key !== 'custom') {
      // Show what the preset means, as a starting point for a custom range.
      const { from } = this.resolve();
      this.fromInput.value = from === undefined ? '' : toDateTimeLocal(from);
      this.toInput.value = '';
    }
    this.mark();
    this.onChange();
  }

  private mark(): void {
    for (const [key, button] of this.buttons) {
      button.classList.toggle('selected', key === this.selected);
      button.setAttribute('aria-pressed', String(key === this.selected));
    }
  }
}
