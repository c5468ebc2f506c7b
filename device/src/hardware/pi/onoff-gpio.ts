import { type Clock, systemClock } from '@iot/common/clock';
import type { Gpio as OnoffGpio, ValueCallback } from 'onoff';
import { Debouncer, filterEdge } from '@iot/hardware';
import { GpioError } from '@iot/hardware';
import type { Edge, EdgeListener, GpioController, GpioPin, GpioPinOptions, Level } from '@iot/hardware';
import { DEFAULT_SYSFS_GPIO_ROOT, sysfsGpioNumber } from './gpiochip-base.ts';
import { configurePull, execFileCommand, type RunCommand } from './pull-resistor.ts';
import { sysfsGpioError } from './sysfs-gpio-errors.ts';

export interface OnoffGpioControllerOptions {
  /**
   * Where to look up the gpiochip base. onoff itself always uses /sys/class/gpio, so this only
   * differs from the default where sysfs is mounted elsewhere and bind-mounted back.
   */
  sysfsRoot?: string;
  /** Runs `pinctrl` to set pull resistors; defaults to execFile. */
  runCommand?: RunCommand;
  /** Timestamps of debounced edges; defaults to the system clock. */
  clock?: Clock;
}

/**
 * Loads onoff (native epoll addon) and returns a controller over it. onoff is imported here, not at
 * the top of the module, so a process that only needs I2C never loads it.
 */
export async function createOnoffGpioController(options: OnoffGpioControllerOptions = {}): Promise<OnoffGpioController> {
  const { Gpio } = await import('onoff');
  return new OnoffGpioController(Gpio, options);
}

/**
 * GPIO over the kernel's sysfs interface, through onoff. sysfs is deprecated in favour of the GPIO
 * character device, so this driver is one of possibly several behind {@link GpioController}:
 * nothing outside `pi/` knows onoff exists.
 *
 * sysfs has no notion of an owner: a pin another process exported is silently reused by onoff.
 * This controller therefore refuses a second open of a pin only within this process.
 */
export class OnoffGpioController implements GpioController {
  /** Problems that did not prevent opening a pin (e.g. a pull resistor that could not be set). */
  readonly warnings: string[] = [];
  private readonly Gpio: typeof OnoffGpio;
  private readonly sysfsRoot: string;
  private readonly runCommand: RunCommand;
  private readonly clock: Clock;
  private readonly pins = new Map<number, OnoffGpioPin>();
  /** Pins between the start and the end of an `open`, which awaits; they count as taken. */
  private readonly opening = new Set<number>();

  constructor(Gpio: typeof OnoffGpio, options: OnoffGpioControllerOptions = {}) {
    this.Gpio = Gpio;
    this.sysfsRoot = options.sysfsRoot ?? DEFAULT_SYSFS_GPIO_ROOT;
    this.runCommand = options.runCommand ?? execFileCommand;
    this.clock = options.clock ?? systemClock;
  }

  async open(options: GpioPinOptions): Promise<GpioPin> {
    const { pin } = options;
    if (this.pins.has(pin) || this.opening.has(pin)) throw new GpioError(pin, 'already open (another service owns it)');
    this.opening.add(pin);
    try {
      const sysfsNumber = await sysfsGpioNumber(pin, this.sysfsRoot);
      if (!this.Gpio.accessible) {
        throw new GpioError(
          pin,
          'cannot write /sys/class/gpio/export: run the container privileged or add the user to the gpio group, with /sys mounted',
        );
      }
      const gpio = this.export(pin, sysfsNumber, options);
      const pinWarnings: string[] = [];
      if (options.direction === 'in') {
        const warning = await configurePull(pin, options.pull, this.runCommand);
        if (warning !== undefined) pinWarnings.push(warning);
      }
      this.warnings.push(...pinWarnings);
      const handle = new OnoffGpioPin({
        pin,
        warnings: pinWarnings,
        sysfsNumber,
        gpio,
        direction: options.direction,
        now: () => this.clock.now(),
        onClose: () => this.pins.delete(pin),
      });
      this.pins.set(pin, handle);
      return handle;
    } finally {
      this.opening.delete(pin);
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.pins.values()].map((pin) => pin.close()));
  }

  private export(pin: number, sysfsNumber: number, options: GpioPinOptions): OnoffGpio {
    try {
      // Inputs get edge 'both' so every raw transition reaches the Debouncer, which applies the
      // watcher's edge filter; onoff's own debounceTimeout is not used, so debounce behaves as in
      // simulation. Outputs are exported as 'high'/'low' so they never glitch through the default.
      return options.direction === 'in'
        ? new this.Gpio(sysfsNumber, 'in', 'both')
        : new this.Gpio(sysfsNumber, options.initial === 1 ? 'high' : 'low');
    } catch (error) {
      throw sysfsGpioError(pin, sysfsNumber, 'open', error);
    }
  }
}

class OnoffGpioPin implements GpioPin {
  readonly pin: number;
  /** The kernel's number for this pin (BCM number plus the gpiochip base). */
  readonly sysfsNumber: number;
  readonly warnings: readonly string[];
  private readonly gpio: OnoffGpio;
  private readonly direction: 'in' | 'out';
  private readonly now: () => number;
  private readonly onClose: () => void;
  private readonly unwatchers = new Set<() => void>();
  private closed = false;

  constructor(options: {
    pin: number;
    sysfsNumber: number;
    warnings: readonly string[];
    gpio: OnoffGpio;
    direction: 'in' | 'out';
    now: () => number;
    onClose: () => void;
  }) {
    this.pin = options.pin;
    this.sysfsNumber = options.sysfsNumber;
    this.warnings = options.warnings;
    this.gpio = options.gpio;
    this.direction = options.direction;
    this.now = options.now;
    this.onClose = options.onClose;
  }

  async read(): Promise<Level> {
    this.assertOpen();
    try {
      return await this.gpio.read();
    } catch (error) {
      throw sysfsGpioError(this.pin, this.sysfsNumber, 'read', error);
    }
  }

  async write(level: Level): Promise<void> {
    this.assertOpen();
    if (this.direction !== 'out') throw new GpioError(this.pin, 'cannot write: pin is an input');
    try {
      await this.gpio.write(level);
    } catch (error) {
      throw sysfsGpioError(this.pin, this.sysfsNumber, 'write', error);
    }
  }

  watch(edge: Edge, debounceMs: number, listener: EdgeListener): () => void {
    this.assertOpen();
    if (this.direction !== 'in') throw new GpioError(this.pin, 'cannot watch: pin is an output');
    let initial: Level;
    try {
      initial = this.gpio.readSync();
    } catch (error) {
      throw sysfsGpioError(this.pin, this.sysfsNumber, 'watch', error);
    }
    const debouncer = new Debouncer({ initial, debounceMs, onStable: filterEdge(edge, listener), now: this.now });
    // onoff reads `value` after each interrupt and passes the level it saw; an error means the
    // read failed, so there is no level to feed and the next interrupt will carry the truth.
    const raw: ValueCallback = (error, level) => {
      if (!error) debouncer.input(level);
    };
    this.gpio.watch(raw);
    const unwatch = () => {
      if (!this.unwatchers.delete(unwatch)) return;
      this.gpio.unwatch(raw);
      debouncer.dispose();
    };
    this.unwatchers.add(unwatch);
    return unwatch;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    for (const unwatch of [...this.unwatchers]) unwatch();
    this.closed = true;
    try {
      this.gpio.unexport();
    } catch {
      // Releasing is best effort: the pin is ours to forget either way, and a failed unexport
      // (pin already unexported by someone else) leaves nothing this process could clean up.
    }
    this.onClose();
  }

  private assertOpen(): void {
    if (this.closed) throw new GpioError(this.pin, 'pin is closed');
  }
}
