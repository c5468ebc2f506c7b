import type { SimulationState } from './control-protocol.ts';

/** The control API answered with an error status; `status` and the API's own message say why. */
export class SimulationControlHttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'SimulationControlHttpError';
    this.status = status;
  }
}

export interface ButtonOptions {
  /** bounce: how long the contacts chatter; click: the chatter on press and on release. */
  ms?: number;
  /** bounce only: where the contacts end up; the opposite of now when omitted. */
  settle?: 'pressed' | 'released';
  /** click only: how long the button is held. */
  holdMs?: number;
}

/**
 * A typed client of the simulator service's HTTP control API (control-http-server.ts), for test
 * steps and scripts: press buttons, inject faults and set conditions on one simulated device of
 * the fleet by name. Every method resolves once the simulator has done it, or rejects with a
 * {@link SimulationControlHttpError} carrying the simulator's explanation.
 */
export class SimulationControlHttpClient {
  /** e.g. `http://127.0.0.1:7301` */
  readonly baseUrl: string;
  private readonly timeoutMs: number;

  constructor(baseUrl: string, options: { timeoutMs?: number } = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 15_000;
  }

  health(): Promise<{ status: string; devices: number } & Record<string, unknown>> {
    return this.call('GET', '/health') as Promise<{ status: string; devices: number }>;
  }

  /** Names of the simulated devices, in the order they were created. */
  async devices(): Promise<string[]> {
    return ((await this.call('GET', '/devices')) as { devices: string[] }).devices;
  }

  /** Open pins, chips, injected faults and current conditions of one device. */
  state(device: string): Promise<SimulationState> {
    return this.call('GET', this.path(device)) as Promise<SimulationState>;
  }

  /** Acts on the push button at BCM `pin` of `device`; resolves once the contacts have settled. */
  button(device: string, pin: number, action: 'press' | 'release' | 'click' | 'bounce', options: ButtonOptions = {}): Promise<{ pressed: boolean }> {
    return this.call('POST', this.path(device, 'button'), { pin, action, ...options }) as Promise<{ pressed: boolean }>;
  }

  /** Makes every transaction to `address` on `bus` NACK or hang (`stuck`); `null` clears it. */
  async busFault(device: string, bus: number, address: number, fault: 'nack' | 'stuck' | null): Promise<void> {
    await this.call('POST', this.path(device, 'bus-fault'), { bus, address, fault });
  }

  /** Corrupts the chip's data (`crc`, `implausible`); `null` clears it. */
  async chipFault(device: string, bus: number, address: number, fault: 'crc' | 'implausible' | null): Promise<void> {
    await this.call('POST', this.path(device, 'chip-fault'), { bus, address, fault });
  }

  /** Overrides what the device's chips sense; omitted quantities keep their value. Resolves with the conditions now. */
  conditions(device: string, conditions: Partial<SimulationState['conditions']>): Promise<SimulationState['conditions']> {
    return this.call('POST', this.path(device, 'conditions'), conditions) as Promise<SimulationState['conditions']>;
  }

  private path(device: string, action?: string): string {
    return `/devices/${encodeURIComponent(device)}${action === undefined ? '' : `/${action}`}`;
  }

  private async call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      const reason = error instanceof Error && error.name === 'TimeoutError' ? `no answer within ${this.timeoutMs} ms` : describeCause(error);
      throw new Error(`cannot reach the simulation control API at ${this.baseUrl} (${reason}); is the simulator running with SIM_CONTROL_PORT set to this port?`, { cause: error });
    }
    const text = await response.text();
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new SimulationControlHttpError(response.status, `${method} ${path}: the simulator answered ${response.status} with non-JSON: ${text.slice(0, 120)}`);
    }
    if (!response.ok) {
      const message = (value as { error?: unknown } | null)?.error;
      throw new SimulationControlHttpError(response.status, `${method} ${path}: ${response.status} ${typeof message === 'string' ? message : text.slice(0, 200)}`);
    }
    return value;
  }
}

function describeCause(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
}
