import { ApiError, apiGet, showError } from './api.ts';

const EVENT_TYPES = ['device', 'readings', 'commands'] as const;
export type LiveEventType = (typeof EVENT_TYPES)[number];

export interface DeviceEvent {
  id: string;
}
export interface ReadingsEvent {
  deviceId: string;
  latestMeasuredAt: number;
}
export interface CommandsEvent {
  deviceId: string;
}

interface LiveEventData {
  device: DeviceEvent;
  readings: ReadingsEvent;
  commands: CommandsEvent;
}

const FIRST_RETRY_MS = 2000;
const MAX_RETRY_MS = 30_000;

/**
 * The page's one connection to GET /api/events (Server-Sent Events). The browser reconnects by
 * itself after a dropped connection; when the server refuses the stream (an error status) the
 * EventSource gives up, so this reconnects with backoff, and first checks the session so an
 * expired login leads to the login page instead of retrying forever. After any reconnect the
 * views resynchronise, because events sent meanwhile are lost.
 */
export class LiveEvents {
  private readonly handlers = new Map<LiveEventType, Array<(data: unknown) => void>>();
  private readonly resyncHandlers: Array<() => void> = [];
  private readonly indicator: HTMLElement | null;
  private opened = false;
  private retryMs = FIRST_RETRY_MS;

  constructor(indicator: HTMLElement | null) {
    this.indicator = indicator;
  }

  /** Calls `handler` with each event of `type` (its JSON data), also when registered after {@link start}. */
  on<T extends LiveEventType>(type: T, handler: (data: LiveEventData[T]) => void): this {
    const list = this.handlers.get(type) ?? [];
    list.push(handler as (data: unknown) => void);
    this.handlers.set(type, list);
    return this;
  }

  /** Calls `handler` after the stream reconnected (events may have been missed). */
  onResync(handler: () => void): this {
    this.resyncHandlers.push(handler);
    return this;
  }

  start(): void {
    this.connect();
  }

  private connect(): void {
    this.setState(this.opened ? 'reconnecting' : 'connecting');
    const source = new EventSource('/api/events', { withCredentials: true });
    source.addEventListener('open', () => {
      this.retryMs = FIRST_RETRY_MS;
      this.setState('live');
      if (this.opened) for (const handler of this.resyncHandlers) handler();
      this.opened = true;
    });
    source.addEventListener('error', () => {
      if (source.readyState === EventSource.CLOSED) {
        this.setState('reconnecting');
        source.close();
        setTimeout(() => void this.reconnect(), this.retryMs);
        this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
      } else {
        this.setState('reconnecting');
      }
    });
    for (const type of EVENT_TYPES) {
      source.addEventListener(type, (event) => {
        let data: unknown;
        try {
          data = JSON.parse((event as MessageEvent<string>).data);
        } catch {
          return;
        }
        for (const handler of this.handlers.get(type) ?? []) handler(data);
      });
    }
  }

  private async reconnect(): Promise<void> {
    try {
      // Goes to the login page on 401; other failures (server down) just retry later.
      await apiGet('/api/session', { quiet: true });
    } catch {
      // The stream attempt below fails the same way and schedules the next try.
    }
    this.connect();
  }

  private setState(state: 'connecting' | 'live' | 'reconnecting'): void {
    if (this.indicator === null) return;
    this.indicator.textContent = state;
    this.indicator.dataset.state = state;
    this.indicator.title = state === 'live' ? 'Live updates are on' : 'Live updates are paused; the page reconnects by itself';
  }
}

/**
 * Wraps `run` so that however often the result is called, `run` starts at most once per
 * `minIntervalMs`, never overlaps itself, and a call during the wait still leads to one run after
 * it (so the last event is never lost).
 */
export function throttle(run: () => Promise<void> | void, minIntervalMs = 1000): () => void {
  let lastStart = Number.NEGATIVE_INFINITY;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running = false;
  let again = false;
  const schedule = (): void => {
    if (running) {
      again = true;
      return;
    }
    if (timer !== undefined) return;
    timer = setTimeout(fire, Math.max(0, lastStart + minIntervalMs - Date.now()));
  };
  const fire = async (): Promise<void> => {
    timer = undefined;
    running = true;
    lastStart = Date.now();
    try {
      await run();
    } catch (error) {
      if (!(error instanceof ApiError)) showError(error instanceof Error ? error.message : String(error));
    } finally {
      running = false;
      if (again) {
        again = false;
        schedule();
      }
    }
  };
  return schedule;
}
