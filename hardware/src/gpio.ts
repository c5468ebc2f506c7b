/**
 * The GPIO contract. Pin numbers are BCM numbers everywhere (the numbers printed on Pi pinouts as
 * "GPIO17"), never header positions and never kernel sysfs numbers: drivers translate.
 */

/** A logic level: 0 is low (0 V), 1 is high (3.3 V on a Raspberry Pi). */
export type Level = 0 | 1;

/** Which transitions a watcher wants: 0→1, 1→0, or both. */
export type Edge = 'rising' | 'falling' | 'both';

/** The internal resistor that sets an input's level while nothing drives it. */
export type Pull = 'up' | 'down' | 'none';

export interface GpioInputOptions {
  /** BCM pin number, 0–27 on a 40-pin Raspberry Pi. */
  pin: number;
  direction: 'in';
  /** Internal pull resistor; `none` leaves the pin floating unless wired externally. */
  pull: Pull;
}

export interface GpioOutputOptions {
  /** BCM pin number, 0–27 on a 40-pin Raspberry Pi. */
  pin: number;
  direction: 'out';
  /** Level driven right after the pin is opened. */
  initial: Level;
}

export type GpioPinOptions = GpioInputOptions | GpioOutputOptions;

/** Called with the new, debounced level and the time (ms since the epoch) it became stable. */
export type EdgeListener = (level: Level, atMs: number) => void;

/** One opened pin. */
export interface GpioPin {
  /** The BCM number this pin was opened with. */
  readonly pin: number;

  /**
   * Problems that did not prevent opening the pin but that a person must fix, e.g. a pull
   * resistor the driver could not set. Callers log them.
   */
  readonly warnings: readonly string[];

  /**
   * Reads the current level.
   * @throws GpioError if the pin is closed or the driver cannot read it.
   */
  read(): Promise<Level>;

  /**
   * Drives the pin to `level`. Only for pins opened with direction `out`.
   * @throws GpioError for an input pin or a closed pin.
   */
  write(level: Level): Promise<void>;

  /**
   * Calls `listener` for each debounced transition matching `edge`. A transition counts once the
   * level has stayed unchanged for `debounceMs` milliseconds (0 reports every raw transition);
   * contact bounce shorter than that is never reported. Listeners run in order of registration.
   * @returns a function that stops this watcher; calling it twice is harmless.
   * @throws GpioError for an output pin or a closed pin.
   */
  watch(edge: Edge, debounceMs: number, listener: EdgeListener): () => void;

  /**
   * Stops all watchers and releases the pin (unexports it on sysfs). Later calls to any other
   * method throw GpioError; calling close again is harmless.
   */
  close(): Promise<void>;
}

/** Opens pins. One per process is enough; it tracks what it opened so it can release it all. */
export interface GpioController {
  /**
   * Opens a pin.
   * @throws GpioError naming the pin and the reason (unknown pin, already open, no permission, pin
   *   claimed by the kernel for another function).
   */
  open(options: GpioPinOptions): Promise<GpioPin>;

  /** Closes every pin this controller opened. */
  close(): Promise<void>;
}
