import { type Clock, systemClock } from '@iot/common/clock';
import type { Environment } from '../environment/environment.ts';
import { type I2cDeviceModel, ModelNack } from '../hardware/i2c-device-model.ts';
import type { Random } from '../random.ts';
import type { ChipModelFault, ChipModelOptions } from './chip-model.ts';

/*
 * The model keeps its own copy of the datasheet's numbers and checksum rather than importing the
 * driver's: a twin that shares the driver's code would agree with the driver's mistakes.
 */

type Repeatability = 'high' | 'medium' | 'low';

/** Single shot, clock stretching disabled (datasheet §4.3, Table 9). */
const SINGLE_SHOT: ReadonlyMap<number, Repeatability> = new Map([
  [0x2400, 'high'],
  [0x240b, 'medium'],
  [0x2416, 'low'],
]);
const SOFT_RESET = 0x30a2; // §4.9
const READ_STATUS = 0xf32d; // §4.11
const CLEAR_STATUS = 0x3041; // §4.11
const HEATER_ON = 0x306d; // §4.10
const HEATER_OFF = 0x3066; // §4.10

/** Maximum measurement duration in ms (datasheet Table 4). */
const MEASUREMENT_MAX_MS: Readonly<Record<Repeatability, number>> = { high: 15.5, medium: 6.5, low: 4.5 };

/**
 * Repeatability as one standard deviation (datasheet Table 1, 2 state it as 3σ: RH 0.08/0.15/0.25 %RH,
 * T 0.04/0.08/0.15 °C for high/medium/low).
 */
const NOISE_SIGMA: Readonly<Record<Repeatability, { temperature: number; humidity: number }>> = {
  high: { temperature: 0.04 / 3, humidity: 0.08 / 3 },
  medium: { temperature: 0.08 / 3, humidity: 0.15 / 3 },
  low: { temperature: 0.15 / 3, humidity: 0.25 / 3 },
};

/** Status register bits (datasheet §4.11, Table 17). */
const ALERT_PENDING = 1 << 15;
const HEATER_STATUS = 1 << 13;
const RH_TRACKING_ALERT = 1 << 11;
const T_TRACKING_ALERT = 1 << 10;
const RESET_DETECTED = 1 << 4;
const COMMAND_FAILED = 1 << 1;
/** Table 17 defaults after any reset: alert pending and reset detected set. */
const STATUS_AFTER_RESET = ALERT_PENDING | RESET_DETECTED;

/** A raw temperature that decodes to 130 °C (§4.13), above the 125 °C the chip can report. */
const IMPLAUSIBLE_TEMPERATURE_RAW = 0xffff;

type Pending =
  | { kind: 'measurement'; readyAt: number; temperatureRaw: number; humidityRaw: number }
  | { kind: 'status'; word: number };

/**
 * A simulated Sensirion SHT3x-DIS at the transaction level. Supports single shot measurements
 * without clock stretching, soft reset, the status register and the heater flag; every other
 * command (periodic mode, clock stretching, alert limits) is NACKed as an unknown command, since a
 * transaction-level bus cannot hold SCL low.
 */
export class Sht31Model implements I2cDeviceModel {
  private readonly environment: Environment;
  private readonly clock: Clock;
  private readonly random: Random | undefined;
  private readonly timeScale: number;
  private fault: ChipModelFault | undefined;
  private status = STATUS_AFTER_RESET;
  private pending: Pending | undefined;

  constructor(options: ChipModelOptions) {
    this.environment = options.environment;
    this.clock = options.clock ?? systemClock;
    this.random = options.random;
    this.timeScale = options.timeScale ?? 1;
  }

  /** Injects a data fault into every frame read from now on; `undefined` clears it. */
  setFault(fault: ChipModelFault | undefined): void {
    this.fault = fault;
  }

  /** True while a single shot conversion runs (the chip NACKs everything then, §4.4). */
  get measuring(): boolean {
    return this.pending?.kind === 'measurement' && this.clock.now() < this.pending.readyAt;
  }

  /**
   * One write transaction: a 16-bit command. NACKs while measuring and for commands it does not
   * know, setting the status register's "command failed" bit for the latter.
   */
  write(data: Uint8Array): void {
    if (this.measuring) throw new ModelNack('SHT31 busy measuring');
    if (data.length !== 2) {
      this.status |= COMMAND_FAILED;
      throw new ModelNack(`SHT31 expects a 2-byte command, got ${data.length} bytes`);
    }
    const command = (data[0]! << 8) | data[1]!;
    const repeatability = SINGLE_SHOT.get(command);
    if (repeatability !== undefined) {
      this.startMeasurement(repeatability);
    } else if (command === SOFT_RESET) {
      this.pending = undefined;
      this.status = STATUS_AFTER_RESET;
      return;
    } else if (command === READ_STATUS) {
      // The status answered reflects the command before this one, so COMMAND_FAILED stays visible.
      this.pending = { kind: 'status', word: this.status };
      return;
    } else if (command === CLEAR_STATUS) {
      this.status &= ~(ALERT_PENDING | RH_TRACKING_ALERT | T_TRACKING_ALERT | RESET_DETECTED);
    } else if (command === HEATER_ON) {
      this.status |= HEATER_STATUS;
    } else if (command === HEATER_OFF) {
      this.status &= ~HEATER_STATUS;
    } else {
      this.status |= COMMAND_FAILED;
      throw new ModelNack(`SHT31 does not know command 0x${command.toString(16).padStart(4, '0')}`);
    }
    this.status &= ~COMMAND_FAILED;
  }

  /**
   * One read transaction. Returns the pending result (words each followed by their CRC, §4.4) and
   * discards it; NACKs while measuring or when nothing is pending.
   */
  read(length: number): Uint8Array {
    if (this.measuring) throw new ModelNack('SHT31 busy measuring');
    const pending = this.pending;
    if (pending === undefined) throw new ModelNack('SHT31 has no data to send');
    this.pending = undefined;
    const words =
      pending.kind === 'status'
        ? [pending.word]
        : [this.fault === 'implausible' ? IMPLAUSIBLE_TEMPERATURE_RAW : pending.temperatureRaw, pending.humidityRaw];
    // Past the last CRC the chip sends ones, as SDA floats high.
    const out = new Uint8Array(length).fill(0xff);
    words.forEach((word, index) => {
      const msb = (word >> 8) & 0xff;
      const lsb = word & 0xff;
      const crc = checksum(msb, lsb);
      const bytes = [msb, lsb, this.fault === 'crc' ? crc ^ 0xff : crc];
      bytes.forEach((byte, i) => {
        if (index * 3 + i < length) out[index * 3 + i] = byte;
      });
    });
    return out;
  }

  private startMeasurement(repeatability: Repeatability): void {
    const now = this.clock.now();
    const conditions = this.environment.at(now);
    const sigma = NOISE_SIGMA[repeatability];
    const temperature = conditions.temperatureCelsius + this.noise(sigma.temperature);
    const humidity = conditions.humidityPercent + this.noise(sigma.humidity);
    this.pending = {
      kind: 'measurement',
      readyAt: now + MEASUREMENT_MAX_MS[repeatability] * this.timeScale,
      // Inverse of §4.13: T = -45 + 175 * S_T / 65535, RH = 100 * S_RH / 65535.
      temperatureRaw: toRaw(((temperature + 45) * 65535) / 175),
      humidityRaw: toRaw((humidity * 65535) / 100),
    };
  }

  private noise(sigma: number): number {
    return this.random === undefined ? 0 : this.random.gaussian() * sigma;
  }
}

function toRaw(value: number): number {
  return Math.min(0xffff, Math.max(0, Math.round(value)));
}

/** CRC-8, polynomial 0x31, init 0xFF, no reflection, no final XOR (datasheet §4.12, Table 19). */
function checksum(...bytes: number[]): number {
  let crc = 0xff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = (crc & 0x80 ? (crc << 1) ^ 0x31 : crc << 1) & 0xff;
  }
  return crc;
}
