import {
  Debouncer,
  type Edge,
  type EdgeListener,
  filterEdge,
  type GpioController,
  GpioError,
  type GpioPin,
  type GpioPinOptions,
  type Level,
  type Pull,
} from '@iot/hardware';
import { createRandom, type Random } from '../random.ts';

/** BCM pins a 40-pin Raspberry Pi exposes. */
const MAX_BCM_PIN = 27;

/**
 * A simulated GPIO line: what is electrically on one pin. An input's level is whatever drives it
 * (a pressed button, a wire from an output) or else its pull resistor.
 */
class SimLine {
  readonly pin: number;
  pull: Pull = 'none';
  direction: 'in' | 'out' | undefined;
  outputLevel: Level = 0;
  /** Level forced by something outside the Pi (button contact, jumper wire); undefined = not driven. */
  driven: Level | undefined;
  readonly listeners = new Set<(level: Level) => void>();
  private last: Level;

  constructor(pin: number) {
    this.pin = pin;
    this.last = this.level();
  }

  level(): Level {
    if (this.direction === 'out') return this.outputLevel;
    if (this.driven !== undefined) return this.driven;
    return this.pull === 'up' ? 1 : 0;
  }

  /** Re-evaluates the level and raises a raw interrupt if it changed. */
  update(): void {
    const now = this.level();
    if (now === this.last) return;
    this.last = now;
    for (const listener of this.listeners) listener(now);
  }
}

/** GPIO for simulated devices, plus the hands that press its buttons. */
export class SimGpioController implements GpioController {
  private readonly lines = new Map<number, SimLine>();
  private readonly openPins = new Map<number, SimGpioPin>();
  private readonly wires: { from: number; to: number }[] = [];
  private readonly random: Random;

  constructor(options: { seed?: number } = {}) {
    this.random = createRandom(options.seed ?? 1);
  }

  async open(options: GpioPinOptions): Promise<GpioPin> {
    if (!Number.isInteger(options.pin) || options.pin < 0 || options.pin > MAX_BCM_PIN) {
      throw new GpioError(options.pin, `no such pin: BCM pins are 0..${MAX_BCM_PIN}`);
    }
    if (this.openPins.has(options.pin)) throw new GpioError(options.pin, 'already open (another service owns it)');
    const line = this.line(options.pin);
    line.direction = options.direction;
    if (options.direction === 'in') line.pull = options.pull;
    else line.outputLevel = options.initial;
    line.update();
    this.propagate(options.pin);
    const pin = new SimGpioPin(line, options.direction, () => {
      this.openPins.delete(options.pin);
      line.direction = undefined;
    }, () => this.propagate(options.pin));
    this.openPins.set(options.pin, pin);
    return pin;
  }

  async close(): Promise<void> {
    await Promise.all([...this.openPins.values()].map((pin) => pin.close()));
  }

  /** Connects an output pin to an input pin, as a jumper wire would. */
  wire(fromPin: number, toPin: number): void {
    this.wires.push({ from: fromPin, to: toPin });
    this.propagate(fromPin);
  }

  /** A push button between `pin` and the rail opposite its pull (so pressing reaches the other level). */
  button(pin: number): SimButton {
    return new SimButton(this.line(pin), this.random);
  }

  private line(pin: number): SimLine {
    let line = this.lines.get(pin);
    if (line === undefined) {
      line = new SimLine(pin);
      this.lines.set(pin, line);
    }
    return line;
  }

  private propagate(fromPin: number): void {
    const from = this.line(fromPin);
    if (from.direction !== 'out') return;
    for (const wire of this.wires.filter((w) => w.from === fromPin)) {
      const to = this.line(wire.to);
      to.driven = from.outputLevel;
      to.update();
    }
  }
}

/** A momentary push button with real-world contact bounce. */
export class SimButton {
  private readonly line: SimLine;
  private readonly random: Random;

  constructor(line: SimLine, random: Random) {
    this.line = line;
    this.random = random;
  }

  /** The level the pin shows while the button is held: the rail opposite the pull resistor. */
  private pressedLevel(): Level {
    return this.line.pull === 'up' ? 0 : 1;
  }

  get pressed(): boolean {
    return this.line.driven !== undefined;
  }

  press(): void {
    this.set(true);
  }

  release(): void {
    this.set(false);
  }

  /**
   * Chatters for `durationMs` (contacts make and break every 0.1–2 ms, as a worn tactile switch
   * does for 1–20 ms), then settles pressed or released. Resolves when settled.
   */
  async bounce(durationMs: number, settle: 'pressed' | 'released'): Promise<void> {
    const end = Date.now() + durationMs;
    let contact = !this.pressed;
    while (Date.now() < end) {
      this.set(contact);
      contact = !contact;
      await new Promise((resolve) => setTimeout(resolve, 0.1 + this.random.next() * 1.9));
    }
    this.set(settle === 'pressed');
  }

  /** A full press: bounce into pressed, hold, bounce into released. */
  async click(options: { bounceMs?: number; holdMs?: number } = {}): Promise<void> {
    const bounceMs = options.bounceMs ?? 5;
    await this.bounce(bounceMs, 'pressed');
    await new Promise((resolve) => setTimeout(resolve, options.holdMs ?? 80));
    await this.bounce(bounceMs, 'released');
  }

  private set(contact: boolean): void {
    this.line.driven = contact ? this.pressedLevel() : undefined;
    this.line.update();
  }
}

class SimGpioPin implements GpioPin {
  readonly pin: number;
  /** Simulated pulls always work. */
  readonly warnings: readonly string[] = [];
  private readonly line: SimLine;
  private readonly direction: 'in' | 'out';
  private readonly onClose: () => void;
  private readonly onWrite: () => void;
  private readonly unwatchers = new Set<() => void>();
  private closed = false;

  constructor(line: SimLine, direction: 'in' | 'out', onClose: () => void, onWrite: () => void) {
    this.pin = line.pin;
    this.line = line;
    this.direction = direction;
    this.onClose = onClose;
    this.onWrite = onWrite;
  }

  async read(): Promise<Level> {
    this.assertOpen();
    return this.line.level();
  }

  async write(level: Level): Promise<void> {
    this.assertOpen();
    if (this.direction !== 'out') throw new GpioError(this.pin, 'cannot write: pin is an input');
    this.line.outputLevel = level;
    this.line.update();
    this.onWrite();
  }

  watch(edge: Edge, debounceMs: number, listener: EdgeListener): () => void {
    this.assertOpen();
    if (this.direction !== 'in') throw new GpioError(this.pin, 'cannot watch: pin is an output');
    const debouncer = new Debouncer({ initial: this.line.level(), debounceMs, onStable: filterEdge(edge, listener) });
    const raw = (level: Level) => debouncer.input(level);
    this.line.listeners.add(raw);
    const unwatch = () => {
      this.line.listeners.delete(raw);
      debouncer.dispose();
      this.unwatchers.delete(unwatch);
    };
    this.unwatchers.add(unwatch);
    return unwatch;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    for (const unwatch of [...this.unwatchers]) unwatch();
    this.closed = true;
    this.onClose();
  }

  private assertOpen(): void {
    if (this.closed) throw new GpioError(this.pin, 'pin is closed');
  }
}
