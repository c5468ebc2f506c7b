import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GpioError, type GpioController, type GpioPin, type Level } from '../src/index.ts';

/**
 * Two pins joined by a wire: whatever `outPin` drives, `inPin` reads. In simulation that is
 * `SimGpioController.wire`; on a Raspberry Pi, a jumper wire between the two header pins.
 */
export interface GpioFixture {
  controller: GpioController;
  /** BCM number of the pin the suite drives. */
  outPin: number;
  /** BCM number of the pin wired to `outPin`. */
  inPin: number;
  /** Releases everything the fixture made (at least `controller.close()`). */
  teardown(): Promise<void>;
}

/** How long real interrupts may take to arrive (sysfs + epoll on a busy Pi is milliseconds). */
const SETTLE_MS = 50;

/**
 * The GPIO contract from `device/src/hardware/gpio.ts`, run against any driver. Every driver must
 * pass it unchanged; the real one on a Pi with `outPin` jumpered to `inPin`.
 */
export function describeGpioContract(name: string, makeFixture: () => Promise<GpioFixture>): void {
  describe(`GPIO contract: ${name}`, () => {
    let fixture: GpioFixture;
    let out: GpioPin;
    let input: GpioPin;

    beforeEach(async () => {
      fixture = await makeFixture();
      out = await fixture.controller.open({ pin: fixture.outPin, direction: 'out', initial: 0 });
      input = await fixture.controller.open({ pin: fixture.inPin, direction: 'in', pull: 'down' });
    });

    afterEach(async () => {
      await fixture.teardown();
    });

    it('reports the BCM numbers it was opened with', () => {
      expect(out.pin).toBe(fixture.outPin);
      expect(input.pin).toBe(fixture.inPin);
    });

    it('reads through the wire what the output drives', async () => {
      expect(await input.read()).toBe(0);
      await out.write(1);
      expect(await input.read()).toBe(1);
      expect(await out.read()).toBe(1);
      await out.write(0);
      expect(await input.read()).toBe(0);
    });

    it('drives the initial level right after opening', async () => {
      await out.close();
      const high = await fixture.controller.open({ pin: fixture.outPin, direction: 'out', initial: 1 });
      expect(await input.read()).toBe(1);
      await high.close();
    });

    it('reports only rising edges to a rising watcher', async () => {
      const events = record(input, 'rising');
      await toggle(out, [1, 0, 1, 0]);
      expect(events.levels).toEqual([1, 1]);
    });

    it('reports only falling edges to a falling watcher', async () => {
      const events = record(input, 'falling');
      await toggle(out, [1, 0, 1, 0]);
      expect(events.levels).toEqual([0, 0]);
    });

    it('reports every transition to a both-edges watcher, in order, with a timestamp', async () => {
      const before = Date.now();
      const events = record(input, 'both');
      await toggle(out, [1, 0, 1]);
      expect(events.levels).toEqual([1, 0, 1]);
      for (const at of events.times) {
        expect(at).toBeGreaterThanOrEqual(before);
        expect(at).toBeLessThanOrEqual(Date.now());
      }
    });

    it('calls every watcher of a pin', async () => {
      const first = record(input, 'both');
      const second = record(input, 'rising');
      await toggle(out, [1, 0]);
      expect(first.levels).toEqual([1, 0]);
      expect(second.levels).toEqual([1]);
    });

    it('debounces a burst shorter than debounceMs into one event with the final level', async () => {
      const debounceMs = 40;
      const events = record(input, 'both', debounceMs);
      // Nine writes back to back take well under a millisecond in simulation and a few on a Pi:
      // far inside the 40 ms window, like a bouncing contact.
      for (const level of [1, 0, 1, 0, 1, 0, 1, 0, 1] as const) await out.write(level);
      await sleep(debounceMs / 2);
      expect(events.levels).toEqual([]);
      await sleep(debounceMs + SETTLE_MS);
      expect(events.levels).toEqual([1]);
      expect(await input.read()).toBe(1);
    });

    it('reports nothing for a burst that ends at the level it started from', async () => {
      const debounceMs = 40;
      const events = record(input, 'both', debounceMs);
      for (const level of [1, 0, 1, 0] as const) await out.write(level);
      await sleep(debounceMs * 2 + SETTLE_MS);
      expect(events.levels).toEqual([]);
    });

    it('stops reporting after unwatch, and unwatch twice is harmless', async () => {
      const events = record(input, 'both');
      await toggle(out, [1]);
      events.stop();
      events.stop();
      await out.write(0);
      await out.write(1);
      await sleep(SETTLE_MS);
      expect(events.levels).toEqual([1]);
    });

    it('rejects a write on an input and a watch on an output with GpioError', async () => {
      await expect(input.write(1)).rejects.toBeInstanceOf(GpioError);
      expect(() => out.watch('both', 0, () => {})).toThrow(GpioError);
    });

    it('throws GpioError from every method after close, and close twice is harmless', async () => {
      await input.close();
      await input.close();
      await expect(input.read()).rejects.toBeInstanceOf(GpioError);
      expect(() => input.watch('both', 0, () => {})).toThrow(GpioError);
      await out.close();
      await expect(out.write(1)).rejects.toBeInstanceOf(GpioError);
      await expect(out.read()).rejects.toBeInstanceOf(GpioError);
    });

    it('refuses to open a pin that is already open, naming the pin', async () => {
      const error = await fixture.controller.open({ pin: fixture.inPin, direction: 'in', pull: 'none' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(GpioError);
      expect((error as GpioError).pin).toBe(fixture.inPin);
      expect((error as GpioError).message).toContain(`GPIO ${fixture.inPin}`);
    });

    it('lets a closed pin be opened again', async () => {
      await input.close();
      const again = await fixture.controller.open({ pin: fixture.inPin, direction: 'in', pull: 'down' });
      await out.write(1);
      expect(await again.read()).toBe(1);
    });

    it('closes every pin it opened when the controller closes', async () => {
      const events = record(input, 'both');
      await fixture.controller.close();
      await expect(input.read()).rejects.toBeInstanceOf(GpioError);
      await expect(out.write(1)).rejects.toBeInstanceOf(GpioError);
      expect(events.levels).toEqual([]);
    });
  });
}

interface Recording {
  levels: Level[];
  times: number[];
  stop: () => void;
}

function record(pin: GpioPin, edge: 'rising' | 'falling' | 'both', debounceMs = 0): Recording {
  const recording: Recording = { levels: [], times: [], stop: () => {} };
  recording.stop = pin.watch(edge, debounceMs, (level, atMs) => {
    recording.levels.push(level);
    recording.times.push(atMs);
  });
  return recording;
}

/** Drives each level in turn, leaving real interrupts time to arrive before the next one. */
async function toggle(out: GpioPin, levels: readonly Level[]): Promise<void> {
  for (const level of levels) {
    await out.write(level);
    await sleep(SETTLE_MS);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
