import { captureLogs, eventually, holdsFor } from '@iot/harness/testing';
import { SimGpioController } from '@iot/simulator/hardware';
import { Redis } from 'ioredis';
import { beforeEach, describe, expect, it } from 'vitest';
import { StartStopButtonService } from '../src/button/index.ts';
import { REDIS_KEY } from '@iot/common/protocol';
import { useRedisAndBroker } from './redis-and-broker.ts';

const PIN = 17;

describe('startstopbutton against a real Redis', () => {
  const bed = useRedisAndBroker({ broker: 'none' });
  let gpio: SimGpioController;

  beforeEach(() => {
    gpio = new SimGpioController({ seed: 7 });
  });

  /** Starts the button service on `redis` (the fixture's by default); it is stopped after the test. */
  async function startButton(options: { pull: 'up' | 'down'; edge: 'rising' | 'falling' | 'both'; debounceMs: number }, redis: Redis = bed.admin) {
    const logs = captureLogs('startstopbutton');
    const service = new StartStopButtonService({ gpio, redis, logger: logs.logger, pin: PIN, ...options });
    bed.onTeardown(() => service.stop());
    await service.start();
    return { logs, service };
  }
  const toggles = (logs: ReturnType<typeof captureLogs>) => logs.find('measuring_toggled').length;

  it('a press with bouncing contacts toggles measuring exactly once', async () => {
    const { logs } = await startButton({ pull: 'down', edge: 'falling', debounceMs: 20 });
    const button = gpio.button(PIN);
    // 15 ms of chatter on make and on break: dozens of raw edges each way.
    await button.click({ bounceMs: 15, holdMs: 100 });
    await eventually(() => toggles(logs) === 1, 2000, 'the toggle');
    // Five debounce times: a late, wrongly debounced edge would have toggled again by then.
    await holdsFor(() => toggles(logs) === 1, 100, 'a single toggle');
    expect(await bed.admin.get(REDIS_KEY.measurementEnabled)).toBe('0');

    await button.click({ bounceMs: 15, holdMs: 100 });
    await eventually(() => toggles(logs) === 2, 2000, 'the second toggle');
    expect(await bed.admin.get(REDIS_KEY.measurementEnabled)).toBe('1');
  });

  it('the chatter really produces many raw edges (so the test above means something)', async () => {
    const { logs } = await startButton({ pull: 'down', edge: 'both', debounceMs: 0 });
    await gpio.button(PIN).bounce(15, 'pressed');
    await eventually(() => logs.find('measuring_toggled').length >= 3, 2000, 'raw edges');
  });

  it('honours BUTTON_EVENT: falling toggles on release with a pull-down, rising on press', async () => {
    const falling = await startButton({ pull: 'down', edge: 'falling', debounceMs: 5 });
    const button = gpio.button(PIN);
    button.press();
    // Held well past the 5 ms debounce, so the press itself is a settled (rising) edge: no toggle.
    await holdsFor(() => toggles(falling.logs) === 0, 60, 'no toggle while the button is held');
    button.release();
    await eventually(() => toggles(falling.logs) === 1, 2000, 'toggle on release');
    await falling.service.stop();

    const { logs: rising } = await startButton({ pull: 'down', edge: 'rising', debounceMs: 5 });
    button.press();
    await eventually(() => rising.find('measuring_toggled').length === 1, 2000, 'toggle on press');
    button.release();
  });

  it('with a pull-up the button pulls the pin low, so a press is a falling edge', async () => {
    const { logs } = await startButton({ pull: 'up', edge: 'falling', debounceMs: 5 });
    const pin = gpio.button(PIN);
    pin.press();
    await eventually(() => logs.find('measuring_toggled').length === 1, 2000, 'toggle on press');
    pin.release();
  });

  it('a press while Redis is down is reported, not lost silently, and the service keeps running', async () => {
    const offline = new Redis({ host: '127.0.0.1', port: 1, enableOfflineQueue: false, retryStrategy: () => null, lazyConnect: true });
    offline.on('error', () => {});
    const { logs } = await startButton({ pull: 'down', edge: 'rising', debounceMs: 5 }, offline);
    const button = gpio.button(PIN);
    button.press();
    const lost = await eventually(() => logs.find('button_press_lost')[0], 2000, 'the lost-press report');
    expect(lost.level).toBe('error');
    expect(String(lost.msg)).toContain('press again');
    button.release();
    offline.disconnect();
  });
});
