import type { Logger } from '@iot/common/log';
import type { Redis } from 'ioredis';
import type { Edge } from '@iot/hardware';
import type { GpioController } from '@iot/hardware';
import { StartStopButtonService } from './button-service.ts';
import type { ButtonConfig } from './config.ts';

const EDGE: Record<ButtonConfig['BUTTON_EVENT'], Edge> = { RISING: 'rising', FALLING: 'falling', BOTH: 'both' };

export function createButton(options: { config: ButtonConfig; gpio: GpioController; redis: Redis; logger: Logger }): StartStopButtonService {
  const { config } = options;
  return new StartStopButtonService({
    gpio: options.gpio,
    redis: options.redis,
    logger: options.logger,
    pin: config.BUTTON_PIN,
    pull: config.BUTTON_PULL_UP_DOWN === 'UP' ? 'up' : 'down',
    edge: EDGE[config.BUTTON_EVENT],
    debounceMs: config.BUTTON_BOUNCE_MILLIS,
  });
}
