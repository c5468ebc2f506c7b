import { StartStopButtonService } from '../src/button/index.ts';
import { REDIS_KEY } from '../src/redis-keys.ts';
import { SimGpioController } from '@iot/simulator/hardware';
import { RedisServer } from '@iot/harness/processes';
import { captureLogs, eventually } from '@iot/harness/testing';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

const PIN = 17;

describe('startstopbutton against a real Redis', () => {
  const server = new RedisServer();
  let redis: Redis;
  let gpio: SimGpioController;
  let service: StartStopButtonService | undefined;

  beforeAll(async () => {
    await server.start();
    redis = new Redis({ host: server.host, port: server.port });
  });
  afterAll(async () => {
    redis.disconnect();
    await server.dispose();
  });
  beforeEach(async () => {
    await redis.flushall();
    gpio = new SimGpioController({ seed: 7 });
  });
  afterEach(async () => {
    await service?.stop();
    service = undefined;
  });

  async function startButton(options: { pull: 'up' | 'down'; edge: 'rising' | 'falling' | 'both'; debounceMs: number }) {
    const logs = captureLogs('startstopbutton');
    service = new StartStopButtonService({ gpio, redis, logger: logs.logger, pin: PIN, ...options });
    await service.start();
    return logs;
  }

  it('a press with bouncing contacts toggles measuring exactly once', async () => {
    const logs = await startButton({ pull: 'down', edge: 'falling', debounceMs: 20 });
    const button = gpio.button(PIN);
    // 15 ms of chatter on make and on break: dozens of raw edges each way.
    await button.click({ bounceMs: 15, holdMs: 100 });
    await eventually(() => logs.find('measuring_toggled').length === 1, 2000, 'the toggle');
    // Give any late, wrongly debounced edge time to show up.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(logs.find('measuring_toggled')).toHaveLength(1);
    expect(await redis.get(REDIS_KEY.measurementEnabled)).toBe('0');

    await button.click({ bounceMs: 15, holdMs: 100 });
    await eventually(() => logs.find('measuring_toggled').length === 2, 2000, 'the second toggle');
    expect(await redis.get(REDIS_KEY.measurementEnabled)).toBe('1');
  });

  it('the chatter really produces many raw edges (so the test above means something)', async () => {
    const logs = await startButton({ pull: 'down', edge: 'both', debounceMs: 0 });
    await gpio.button(PIN).bounce(15, 'pressed');
    await eventually(() => logs.find('measuring_toggled').length >= 3, 2000, 'raw edges');
  });

  it('honours BUTTON_EVENT: falling toggles on release with a pull-down, rising on press', async () => {
    const falling = await startButton({ pull: 'down', edge: 'falling', debounceMs: 5 });
    const button = gpio.button(PIN);
    button.press();
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(falling.find('measuring_toggled')).toHaveLength(0);
    button.release();
    await eventually(() => falling.find('measuring_toggled').length === 1, 2000, 'toggle on release');
    await service?.stop();

    const rising = await startButton({ pull: 'down', edge: 'rising', debounceMs: 5 });
    button.press();
    await eventually(() => rising.find('measuring_toggled').length === 1, 2000, 'toggle on press');
    button.release();
  });

  it('with a pull-up the button pulls the pin low, so a press is a falling edge', async () => {
    const logs = await startButton({ pull: 'up', edge: 'falling', debounceMs: 5 });
    const pin = gpio.button(PIN);
    pin.press();
    await eventually(() => logs.find('measuring_toggled').length === 1, 2000, 'toggle on press');
    pin.release();
  });

  it('a press while Redis is down is reported, not lost silently, and the service keeps running', async () => {
    const offline = new Redis({ host: '127.0.0.1', port: 1, enableOfflineQueue: false, retryStrategy: () => null, lazyConnect: true });
    offline.on('error', () => {});
    const logs = captureLogs('startstopbutton');
    service = new StartStopButtonService({ gpio, redis: offline, logger: logs.logger, pin: PIN, pull: 'down', edge: 'rising', debounceMs: 5 });
    await service.start();
    const button = gpio.button(PIN);
    button.press();
    const lost = await eventually(() => logs.find('button_press_lost')[0], 2000, 'the lost-press report');
    expect(lost.level).toBe('error');
    expect(String(lost.msg)).toContain('press again');
    button.release();
    offline.disconnect();
  });
});
