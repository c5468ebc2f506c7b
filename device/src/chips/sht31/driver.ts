import type { Clock } from '@iot/common/clock';
import { QUANTITY, type Quantity } from '@iot/common/protocol';
import { ChipConversionTimeoutError, ChipCrcError, ChipIdentityError, hex, I2cNackError, ImplausibleValueError } from '@iot/hardware';
import type { I2cBus } from '@iot/hardware';
import type { ChipDriver, ChipDriverOptions, Sample } from '../chip.ts';
import {
  commandBytes,
  MEASUREMENT_MAX_MS,
  READ_STATUS_COMMAND,
  SINGLE_SHOT_COMMAND,
  SOFT_RESET_COMMAND,
  SOFT_RESET_MAX_MS,
  STATUS_BIT,
  STATUS_READ_WAIT_MS,
  type Sht31Repeatability,
} from './commands.ts';
import { sht3xCrc8 } from './crc8.ts';

export interface Sht31DriverOptions extends ChipDriverOptions {
  /** Single shot repeatability; defaults to 'high' (lowest noise, longest conversion). */
  repeatability?: Sht31Repeatability;
}

/**
 * Specified operating range (datasheet Table 1, 2), widened by the chip's accuracy (±1 °C covers
 * Table 1's tolerance at the range ends) as the BME280 driver does: the raw words nearest the edges
 * decode to −40.0011 and 125.0011 °C (§4.13), so a healthy chip at its limit reads just outside
 * them. Anything further out is a broken chip or transfer.
 */
const TEMPERATURE_RANGE: readonly [number, number] = [-41, 126];
const HUMIDITY_RANGE: readonly [number, number] = [0, 100];

/**
 * Extra read attempts after the maximum measurement time. Timers may wake a little early, and the
 * chip NACKs the read header until its conversion is done (datasheet §4.4), so a NACK right at the
 * deadline is normal; several in a row mean the chip is not converting.
 */
const READ_RETRIES = 4;
const READ_RETRY_WAIT_MS = 1;

/** Converts a raw temperature word to °C (datasheet §4.13, equation 2). */
export function temperatureCelsiusFromRaw(raw: number): number {
  return -45 + (175 * raw) / 65535;
}

/** Converts a raw humidity word to %RH (datasheet §4.13, equation 1). */
export function humidityPercentFromRaw(raw: number): number {
  return (100 * raw) / 65535;
}

/**
 * Driver for the Sensirion SHT3x-DIS (SHT30/31/35) humidity and temperature sensor. The chip is
 * command-based: each 16-bit command is a plain I2C write, and results come back as words followed
 * by a CRC byte. Measurements use single shot mode without clock stretching, so the driver waits
 * out the conversion on its injected clock instead of holding the bus.
 */
export class Sht31Driver implements ChipDriver {
  readonly kind = 'sht31';
  readonly quantities: readonly Quantity[] = [QUANTITY.temperature, QUANTITY.humidity];
  readonly busNumber: number;
  readonly address: number;
  readonly repeatability: Sht31Repeatability;
  private readonly bus: I2cBus;
  private readonly clock: Clock;
  private initialised = false;

  constructor(options: Sht31DriverOptions) {
    this.bus = options.bus;
    this.address = options.address;
    this.busNumber = options.bus.busNumber;
    this.clock = options.clock;
    this.repeatability = options.repeatability ?? 'high';
  }

  /**
   * Soft-resets the chip and reads its status register, which proves an SHT3x answers at the
   * address: the word must carry a valid CRC and show the reset it just went through.
   *
   * @throws ChipCrcError when the status word's checksum is wrong.
   * @throws ChipConversionTimeoutError when the chip keeps NACKing the status read.
   * @throws ChipIdentityError when the status word does not report the reset.
   * @throws I2cError subclasses from the bus, unchanged.
   */
  async init(): Promise<void> {
    this.initialised = false;
    await this.command(SOFT_RESET_COMMAND);
    await this.clock.sleep(SOFT_RESET_MAX_MS);
    await this.command(READ_STATUS_COMMAND);
    await this.clock.sleep(STATUS_READ_WAIT_MS);
    const frame = await this.readPolling(3, 'the status word', STATUS_READ_WAIT_MS);
    const status = this.word(frame, 0, 'status');
    // Table 17: a soft reset sets "system reset detected"; a chip that ignored it is no SHT3x.
    if ((status & STATUS_BIT.resetDetected) === 0) {
      throw new ChipIdentityError(this.busNumber, this.address, `status ${hex16(status)} does not report the soft reset; not an SHT3x?`);
    }
    this.initialised = true;
  }

  /**
   * Runs one single shot measurement and returns temperature (°C) and relative humidity (%).
   *
   * @throws Error when called before {@link init} succeeded.
   * @throws ChipConversionTimeoutError when the chip still NACKs reads well after the maximum
   *   measurement time.
   * @throws ChipCrcError naming the word whose checksum failed.
   * @throws ImplausibleValueError when a value lies outside the chip's operating range.
   * @throws I2cError subclasses from the bus, unchanged.
   */
  async read(): Promise<Sample> {
    if (!this.initialised) throw new Error(`SHT31 on bus ${this.busNumber} at ${hex(this.address)}: read() before init()`);
    await this.command(SINGLE_SHOT_COMMAND[this.repeatability]);
    await this.clock.sleep(MEASUREMENT_MAX_MS[this.repeatability]);
    const frame = await this.readMeasurement();
    // §4.4: the frame is T word, T CRC, RH word, RH CRC.
    const temperature = temperatureCelsiusFromRaw(this.word(frame, 0, 'temperature'));
    const humidity = humidityPercentFromRaw(this.word(frame, 3, 'humidity'));
    this.checkRange(QUANTITY.temperature, temperature, TEMPERATURE_RANGE);
    this.checkRange(QUANTITY.humidity, humidity, HUMIDITY_RANGE);
    return { [QUANTITY.temperature]: temperature, [QUANTITY.humidity]: humidity };
  }

  private command(command: number): Promise<void> {
    return this.bus.write(this.address, commandBytes(command));
  }

  /** Reads the 6-byte result, polling while the chip NACKs because it is still converting. */
  private readMeasurement(): Promise<Uint8Array> {
    return this.readPolling(6, 'measurement result', MEASUREMENT_MAX_MS[this.repeatability]);
  }

  /**
   * Reads `length` bytes, retrying a NACKed read header a few times: the chip NACKs while it is
   * still busy with the command before (§4.4). `waitedMs` is what the caller already waited.
   */
  private async readPolling(length: number, what: string, waitedMs: number): Promise<Uint8Array> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.bus.read(this.address, length);
      } catch (error) {
        if (!(error instanceof I2cNackError)) throw error;
        if (attempt >= READ_RETRIES) {
          const waited = waitedMs + READ_RETRIES * READ_RETRY_WAIT_MS;
          throw new ChipConversionTimeoutError(this.busNumber, this.address, `no ${what} after ~${waited} ms (${error.message})`);
        }
        await this.clock.sleep(READ_RETRY_WAIT_MS);
      }
    }
  }

  /** Returns the word at `offset` after checking the CRC byte that follows it (§4.12). */
  private word(frame: Uint8Array, offset: number, name: string): number {
    const msb = frame[offset]!;
    const lsb = frame[offset + 1]!;
    const received = frame[offset + 2]!;
    const expected = sht3xCrc8([msb, lsb]);
    if (received !== expected) {
      throw new ChipCrcError(this.busNumber, this.address, `${name} word ${hex16((msb << 8) | lsb)}: CRC ${hex8(received)}, expected ${hex8(expected)}`);
    }
    return (msb << 8) | lsb;
  }

  private checkRange(quantity: Quantity, value: number, range: readonly [number, number]): void {
    if (value < range[0] || value > range[1]) throw new ImplausibleValueError(this.busNumber, this.address, quantity, value, range);
  }
}

function hex8(value: number): string {
  return `0x${value.toString(16).padStart(2, '0')}`;
}

function hex16(value: number): string {
  return `0x${value.toString(16).padStart(4, '0')}`;
}
