import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Gpio, ValueCallback } from 'onoff';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GpioError, type Level } from '@iot/hardware';
import { OnoffGpioController } from '../src/hardware/pi/onoff-gpio.ts';
import type { RunCommand } from '../src/hardware/pi/pull-resistor.ts';
import { describeGpioContract } from '@iot/hardware/contracts';

// The onoff driver cannot reach real sysfs here, so it runs against a stand-in for onoff's Gpio
// class that behaves like sysfs + epoll: numbers are sysfs numbers, an interrupt arrives after the
// write that caused it (next turn of the event loop) and reports the level read at that moment.

/** The electrical side: levels per sysfs number, jumper wires, who is exported. */
class FakeSysfs {
  accessible = true;
  readonly levels = new Map<number, Level>();
  readonly exported: number[] = [];
  readonly unexported: number[] = [];
  readonly exportErrors = new Map<number, NodeJS.ErrnoException>();
  readonly wires: [number, number][] = [];
  readonly listeners = new Map<number, ValueCallback[]>();

  drive(sysfsNumber: number, level: Level): void {
    this.setLevel(sysfsNumber, level);
    for (const [from, to] of this.wires) if (from === sysfsNumber) this.setLevel(to, level);
  }

  private setLevel(sysfsNumber: number, level: Level): void {
    if (this.levels.get(sysfsNumber) === level) return;
    this.levels.set(sysfsNumber, level);
    setImmediate(() => {
      for (const callback of [...(this.listeners.get(sysfsNumber) ?? [])]) callback(null, this.levels.get(sysfsNumber) ?? 0);
    });
  }

  gpioClass(): typeof Gpio {
    const sysfs = this;
    class FakeGpio {
      static get accessible(): boolean {
        return sysfs.accessible;
      }
      readonly number: number;
      constructor(number: number, direction: string, edge?: string) {
        const error = sysfs.exportErrors.get(number);
        if (error) throw error;
        if (direction === 'in' && edge !== 'both') throw new Error(`expected edge both, got ${edge}`);
        this.number = number;
        sysfs.exported.push(number);
        if (direction === 'high') sysfs.drive(number, 1);
        if (direction === 'low') sysfs.drive(number, 0);
      }
      readSync(): Level {
        return sysfs.levels.get(this.number) ?? 0;
      }
      async read(): Promise<Level> {
        return this.readSync();
      }
      async write(level: Level): Promise<void> {
        sysfs.drive(this.number, level);
      }
      watch(callback: ValueCallback): void {
        sysfs.listeners.set(this.number, [...(sysfs.listeners.get(this.number) ?? []), callback]);
      }
      unwatch(callback: ValueCallback): void {
        sysfs.listeners.set(this.number, (sysfs.listeners.get(this.number) ?? []).filter((c) => c !== callback));
      }
      unexport(): void {
        sysfs.listeners.delete(this.number);
        sysfs.unexported.push(this.number);
      }
    }
    return FakeGpio as unknown as typeof Gpio;
  }
}

let sysfsRoot: string;

beforeAll(async () => {
  // A Pi 4 on kernel 6.6+: BCM n is sysfs 512 + n.
  sysfsRoot = await mkdtemp(join(tmpdir(), 'onoff-sysfs-'));
  await mkdir(join(sysfsRoot, 'gpiochip512'));
  await writeFile(join(sysfsRoot, 'gpiochip512', 'base'), '512\n');
  await writeFile(join(sysfsRoot, 'gpiochip512', 'label'), 'pinctrl-bcm2711\n');
  await writeFile(join(sysfsRoot, 'gpiochip512', 'ngpio'), '58\n');
});

afterAll(async () => {
  await rm(sysfsRoot, { recursive: true, force: true });
});

const pinctrlOk: RunCommand = async () => {};

describeGpioContract('onoff driver over a stand-in for sysfs (BCM 5 wired to 6)', async () => {
  const sysfs = new FakeSysfs();
  sysfs.wires.push([517, 518]);
  const controller = new OnoffGpioController(sysfs.gpioClass(), { sysfsRoot, runCommand: pinctrlOk });
  return { controller, outPin: 5, inPin: 6, teardown: () => controller.close() };
});

describe('OnoffGpioController', () => {
  it('exports the sysfs number (512 + BCM on a Pi 4 with kernel 6.6+) and unexports it on close', async () => {
    const sysfs = new FakeSysfs();
    const controller = new OnoffGpioController(sysfs.gpioClass(), { sysfsRoot, runCommand: pinctrlOk });
    const pin = await controller.open({ pin: 17, direction: 'out', initial: 1 });
    expect(sysfs.exported).toEqual([529]);
    expect(sysfs.levels.get(529)).toBe(1);
    await pin.close();
    expect(sysfs.unexported).toEqual([529]);
  });

  it('sets an input pull with pinctrl, by BCM number, and warns nothing when that works', async () => {
    const calls: string[] = [];
    const runCommand: RunCommand = async (file, args) => {
      calls.push([file, ...args].join(' '));
    };
    const controller = new OnoffGpioController(new FakeSysfs().gpioClass(), { sysfsRoot, runCommand });
    await controller.open({ pin: 22, direction: 'in', pull: 'up' });
    await controller.open({ pin: 23, direction: 'in', pull: 'down' });
    await controller.open({ pin: 24, direction: 'out', initial: 0 });
    expect(calls).toEqual(['pinctrl set 22 ip pu', 'pinctrl set 23 ip pd']);
    expect(controller.warnings).toEqual([]);
  });

  it('opens the pin anyway when pinctrl fails, and warns how to set the pull at boot', async () => {
    const missing: RunCommand = async () => {
      throw Object.assign(new Error('spawn pinctrl ENOENT'), { code: 'ENOENT' });
    };
    const controller = new OnoffGpioController(new FakeSysfs().gpioClass(), { sysfsRoot, runCommand: missing });
    const pin = await controller.open({ pin: 27, direction: 'in', pull: 'down' });
    expect(await pin.read()).toBe(0);
    expect(controller.warnings).toHaveLength(1);
    expect(controller.warnings[0]).toContain('GPIO 27');
    expect(controller.warnings[0]).toContain('BALENA_HOST_CONFIG_gpio="27=ip,pd"');
    expect(controller.warnings[0]).toContain('gpio=27=ip,pd');
  });

  it.each([
    ['EBUSY', /GPIO 17: sysfs GPIO 529 is busy/],
    ['EACCES', /GPIO 17: no permission to open sysfs GPIO 529.*privileged.*gpio group/],
    ['EPERM', /GPIO 17: no permission.*privileged/],
    ['EINVAL', /GPIO 17: sysfs GPIO 529 is not available.*I2C, SPI/],
  ])('turns %s from exporting into a GpioError naming BCM and sysfs numbers', async (code, message) => {
    const sysfs = new FakeSysfs();
    sysfs.exportErrors.set(529, Object.assign(new Error(`${code}: write /sys/class/gpio/export`), { code }));
    const controller = new OnoffGpioController(sysfs.gpioClass(), { sysfsRoot, runCommand: pinctrlOk });
    const error = await controller.open({ pin: 17, direction: 'in', pull: 'none' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GpioError);
    expect((error as GpioError).pin).toBe(17);
    expect((error as GpioError).message).toMatch(message);
    // A failed open does not leave the pin marked as taken.
    sysfs.exportErrors.clear();
    await expect(controller.open({ pin: 17, direction: 'in', pull: 'none' })).resolves.toBeDefined();
  });

  it('refuses to open when sysfs GPIO is not writable, saying how to fix it', async () => {
    const sysfs = new FakeSysfs();
    sysfs.accessible = false;
    const controller = new OnoffGpioController(sysfs.gpioClass(), { sysfsRoot, runCommand: pinctrlOk });
    await expect(controller.open({ pin: 4, direction: 'out', initial: 0 })).rejects.toThrow(/GPIO 4: .*privileged.*gpio group/);
    expect(sysfs.exported).toEqual([]);
  });

  it('refuses a second open of a pin while the first is still being opened', async () => {
    const controller = new OnoffGpioController(new FakeSysfs().gpioClass(), { sysfsRoot, runCommand: pinctrlOk });
    const results = await Promise.allSettled([
      controller.open({ pin: 9, direction: 'in', pull: 'none' }),
      controller.open({ pin: 9, direction: 'in', pull: 'none' }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
  });
});
