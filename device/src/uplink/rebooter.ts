/** Restarts the device. The reboot command uses it after its answer has gone out. */
export interface Rebooter {
  /** Asks for a reboot; resolves once the request was accepted, rejects with a readable Error if it was not. */
  reboot(): Promise<void>;
}

export interface BalenaSupervisorRebooterOptions {
  /** `BALENA_SUPERVISOR_ADDRESS`, e.g. `http://127.0.0.1:48484` (balena sets it on the device). */
  address: string;
  /** `BALENA_SUPERVISOR_API_KEY` (balena sets it). Never written into errors or logs. */
  apiKey: string;
  /** How long to wait for the supervisor's answer. */
  timeoutMs?: number;
}

/**
 * Reboots through the balena supervisor API, as the original did (docs/original-system.md §13):
 * `POST $BALENA_SUPERVISOR_ADDRESS/v1/reboot?apikey=$BALENA_SUPERVISOR_API_KEY`. The supervisor
 * answers 202 and reboots the device shortly after.
 */
export class BalenaSupervisorRebooter implements Rebooter {
  private readonly url: string;
  private readonly safeUrl: string;
  private readonly timeoutMs: number;

  constructor(options: BalenaSupervisorRebooterOptions) {
    const base = options.address.replace(/\/+$/, '');
    this.url = `${base}/v1/reboot?apikey=${encodeURIComponent(options.apiKey)}`;
    this.safeUrl = `${base}/v1/reboot`;
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** Sends the reboot request; rejects on a network error, a timeout or a non-2xx status. */
  async reboot(): Promise<void> {
    let response: Response;
    try {
      response = await fetch(this.url, { method: 'POST', signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (error) {
      const reason = error instanceof Error && error.name === 'TimeoutError' ? `no answer within ${this.timeoutMs} ms` : describeCause(error);
      throw new Error(`balena supervisor at ${this.safeUrl} could not be reached: ${reason}`, { cause: error });
    }
    const body = (await response.text().catch(() => '')).trim().slice(0, 200);
    if (!response.ok) {
      throw new Error(`balena supervisor refused the reboot: HTTP ${response.status} from ${this.safeUrl}${body ? `: ${body}` : ''}`);
    }
  }
}

/**
 * Reboots by calling a function: in simulation "reboot" restarts the simulated device's services
 * in-process, so there is no supervisor to ask.
 */
export class CallbackRebooter implements Rebooter {
  private readonly callback: () => void | Promise<void>;

  constructor(callback: () => void | Promise<void>) {
    this.callback = callback;
  }

  /** Runs the callback; rejects if it throws or rejects. */
  async reboot(): Promise<void> {
    await this.callback();
  }
}

/** fetch's "fetch failed" hides the real reason (ECONNREFUSED, ENOTFOUND) in `cause`. */
function describeCause(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause;
  if (cause instanceof Error) return `${error.message} (${(cause as NodeJS.ErrnoException).code ?? cause.message})`;
  return error.message;
}
