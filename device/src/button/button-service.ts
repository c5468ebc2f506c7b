import type { Logger } from '@iot/common/log';
import type { Service } from '@iot/common/service';
import type { Redis } from 'ioredis';
import type { Edge, GpioController, GpioPin, Pull } from '@iot/hardware';
import { REDIS_KEY } from '@iot/common/protocol';

/**
 * Flips `measurement:enabled` atomically: "0" becomes "1", anything else (or missing, which means
 * measuring) becomes "0". Atomic so that the button and a remote command never both read the
 * same old value.
 */
const TOGGLE_SCRIPT = `
local enabled = redis.call('GET', KEYS[1])
local next = '0'
if enabled == '0' then next = '1' end
redis.call('SET', KEYS[1], next)
return next`;

export interface StartStopButtonOptions {
  gpio: GpioController;
  redis: Redis;
  logger: Logger;
  /** BCM pin. */
  pin: number;
  pull: Pull;
  edge: Edge;
  debounceMs: number;
}

/** Each debounced press (the configured edge) toggles measuring. */
export class StartStopButtonService implements Service {
  private pinHandle: GpioPin | undefined;
  private queue: Promise<void> = Promise.resolve();
  private toggles = 0;
  private readonly options: StartStopButtonOptions;

  constructor(options: StartStopButtonOptions) {
    this.options = options;
  }

  /** Presses that reached Redis. */
  get toggled(): number {
    return this.toggles;
  }

  async start(): Promise<void> {
    const { gpio, pin, pull, edge, debounceMs, logger } = this.options;
    this.pinHandle = await gpio.open({ pin, direction: 'in', pull });
    for (const warning of this.pinHandle.warnings) logger.warn({ event: 'gpio_warning', pin }, warning);
    this.pinHandle.watch(edge, debounceMs, () => {
      // Presses are applied one after another, in the order they happened.
      this.queue = this.queue.then(() => this.toggle());
    });
    logger.info({ event: 'button_ready', pin, pull, edge, debounce_ms: debounceMs }, 'watching the start/stop button');
  }

  async stop(): Promise<void> {
    await this.pinHandle?.close();
    await this.queue;
  }

  private async toggle(): Promise<void> {
    const { redis, logger, pin } = this.options;
    try {
      const enabled = await redis.eval(TOGGLE_SCRIPT, 1, REDIS_KEY.measurementEnabled);
      this.toggles++;
      logger.info({ event: 'measuring_toggled', pin, enabled: enabled === '1' }, enabled === '1' ? 'button: measuring started' : 'button: measuring stopped');
    } catch (error) {
      // A press while Redis is down is not replayed later: starting or stopping minutes after the
      // press would surprise whoever pressed it. Say so instead.
      logger.error(
        { event: 'button_press_lost', pin, err: { message: error instanceof Error ? error.message : String(error) } },
        'button press could not toggle measuring: Redis is unavailable; press again once it is back',
      );
    }
  }
}
