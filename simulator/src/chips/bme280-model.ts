import { type Clock, systemClock } from '@iot/common/clock';
import type { Conditions, Environment } from '../environment/environment.ts';
import type { I2cDeviceModel } from '../hardware/i2c-device-model.ts';
import type { Random } from '../random.ts';
import { type Bme280Trimming, idealAdc, TYPICAL_TRIMMING, trimmingBytes } from './bme280-adc.ts';
import type { ChipModelFault, ChipModelOptions } from './chip-model.ts';

/* Register addresses (datasheet BST-BME280-DS002 §5.3 Table 18), kept apart from the driver's. */
const CALIB_00 = 0x88;
const CHIP_ID = 0xd0;
const RESET = 0xe0;
const CALIB_26 = 0xe1;
const CTRL_HUM = 0xf2;
const STATUS = 0xf3;
const CTRL_MEAS = 0xf4;
const CONFIG = 0xf5;
const PRESS_MSB = 0xf7;

const BME280_ID = 0x60;
const RESET_WORD = 0xb6;
const STATUS_MEASURING = 0x08;
const STATUS_IM_UPDATE = 0x01;
/** Table 18 reset values of press, temp and hum (0x80000, 0x80000, 0x8000); also what a skipped measurement leaves. */
const DATA_AFTER_RESET = [0x80, 0x00, 0x00, 0x80, 0x00, 0x00, 0x80, 0x00];

/**
 * How long the NVM copy after a reset keeps status.im_update set. The datasheet bounds only the
 * whole start-up (2 ms, Table 1); 1 ms is this model's assumption.
 */
const NVM_COPY_MS = 1;

/**
 * Assumed one-sigma noise at oversampling ×1, of the order of the datasheet's RMS noise figures
 * (Table 1: 0.02 %RH for humidity); oversampling n averages n samples, dividing it by √n.
 */
const NOISE_AT_X1 = { temperatureCelsius: 0.005, pressureHpa: 0.013, humidityPercent: 0.02 };

/** A raw word decoding far outside every range (an ADC reading all ones). */
const IMPLAUSIBLE_DATA = [0xff, 0xff, 0xf0, 0xff, 0xff, 0xf0, 0xff, 0xff];

export interface Bme280ModelOptions extends ChipModelOptions {
  /** The trimming values in this chip's NVM; defaults to {@link TYPICAL_TRIMMING}. */
  calibration?: Bme280Trimming;
}

interface Conversion {
  endsAt: number;
  data: number[];
  /** What was measured; undefined under the implausible fault. */
  conditions: Conditions | undefined;
}

/**
 * A simulated Bosch BME280 at the register level: chip id, soft reset, calibration NVM, ctrl_hum,
 * ctrl_meas, config, status and data registers, with forced-mode conversions that take the
 * datasheet's typical time (Appendix B §9.1) on the injected clock. Normal mode is not simulated.
 */
export class Bme280Model implements I2cDeviceModel {
  private readonly environment: Environment;
  private readonly clock: Clock;
  private readonly random: Random | undefined;
  private readonly timeScale: number;
  private readonly calibration: Bme280Trimming;
  private readonly registers = new Uint8Array(256);
  private pointer = 0;
  private fault: ChipModelFault | undefined;
  private conversion: Conversion | undefined;
  private nvmCopyEndsAt = 0;
  /** osrs_h as latched by the last ctrl_meas write (§5.4.3). */
  private humidityOversamplingCode = 0;
  /** IIR filter state, raw 20-bit temperature and pressure (§3.4.4). */
  private filtered: { adcT: number; adcP: number } | undefined;
  private converted: Conditions | undefined;

  constructor(options: Bme280ModelOptions) {
    this.environment = options.environment;
    this.clock = options.clock ?? systemClock;
    this.random = options.random;
    this.timeScale = options.timeScale ?? 1;
    this.calibration = options.calibration ?? TYPICAL_TRIMMING;
    this.reset();
  }

  /**
   * Injects a data fault into every conversion from now on; `undefined` clears it. Only
   * 'implausible' applies: the BME280 has no checksum, so 'crc' is rejected.
   */
  setFault(fault: ChipModelFault | undefined): void {
    if (fault === 'crc') throw new Error('Bme280Model: the BME280 sends no checksum, so a crc fault does not apply');
    this.fault = fault;
  }

  /** The conditions (before noise) the last completed conversion measured, if any. */
  get conditionsLastConverted(): Conditions | undefined {
    this.settle();
    return this.converted;
  }

  /** True while a forced-mode conversion runs (status bit 3). */
  get measuring(): boolean {
    this.settle();
    return this.conversion !== undefined;
  }

  /**
   * One write transaction: a lone byte sets the register pointer; longer writes are register/value
   * pairs (§6.2.1 — the chip does not auto-increment on writes). Writes to read-only registers are
   * ignored.
   */
  write(data: Uint8Array): void {
    this.settle();
    let i = 0;
    for (; i + 1 < data.length; i += 2) {
      this.pointer = data[i]!;
      this.writeRegister(data[i]!, data[i + 1]!);
    }
    if (i < data.length) this.pointer = data[i]!;
  }

  /** One read transaction: `length` bytes from the register pointer, auto-incrementing (§6.2.2). */
  read(length: number): Uint8Array {
    this.settle();
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) {
      out[i] = this.readRegister(this.pointer);
      this.pointer = (this.pointer + 1) & 0xff;
    }
    return out;
  }

  private readRegister(address: number): number {
    if (address !== STATUS) return this.registers[address]!;
    const copying = this.clock.now() < this.nvmCopyEndsAt;
    return (this.conversion === undefined ? 0 : STATUS_MEASURING) | (copying ? STATUS_IM_UPDATE : 0);
  }

  private writeRegister(address: number, value: number): void {
    switch (address) {
      case RESET:
        if (value === RESET_WORD) this.reset();
        return;
      case CTRL_HUM:
        this.registers[CTRL_HUM] = value & 0x07;
        return;
      case CTRL_MEAS:
        this.registers[CTRL_MEAS] = value;
        this.humidityOversamplingCode = this.registers[CTRL_HUM]!;
        this.startMode(value & 0x03);
        return;
      case CONFIG:
        // Bit 1 is reserved (§5.4.6).
        this.registers[CONFIG] = value & 0xfd;
        return;
      default:
      // Everything else is read-only.
    }
  }

  /** Power-on state (§5.4.2): defaults of Table 18, calibration copied from NVM. */
  private reset(): void {
    this.registers.fill(0);
    this.registers[CHIP_ID] = BME280_ID;
    const nvm = trimmingBytes(this.calibration);
    this.registers.set(nvm.at0x88, CALIB_00);
    this.registers.set(nvm.at0xE1, CALIB_26);
    this.registers.set(DATA_AFTER_RESET, PRESS_MSB);
    this.conversion = undefined;
    this.filtered = undefined;
    this.humidityOversamplingCode = 0;
    this.nvmCopyEndsAt = this.clock.now() + NVM_COPY_MS * this.timeScale;
  }

  private startMode(mode: number): void {
    if (mode === 0b11) throw new Error('Bme280Model: normal mode is not simulated; use forced mode');
    if (mode === 0b00) {
      this.conversion = undefined;
      return;
    }
    const ctrlMeas = this.registers[CTRL_MEAS]!;
    const t = oversampling((ctrlMeas >> 5) & 0x07);
    const p = oversampling((ctrlMeas >> 2) & 0x07);
    const h = oversampling(this.humidityOversamplingCode);
    const now = this.clock.now();
    // Appendix B §9.1, typical: 1 ms plus 2 ms per sample, plus 0.5 ms setup for P and H.
    const typicalMs = 1 + (t && 2 * t) + (p && 2 * p + 0.5) + (h && 2 * h + 0.5);
    const conditions = this.fault === 'implausible' ? undefined : this.environment.at(now);
    const data = conditions === undefined ? IMPLAUSIBLE_DATA : this.convert(conditions, t, p, h);
    this.conversion = { endsAt: now + typicalMs * this.timeScale, data, conditions };
  }

  /** The 8 data bytes of §5.4.7–§5.4.9 for `conditions`, at oversampling factors t, p, h (0 = skipped). */
  private convert(conditions: Conditions, t: number, p: number, h: number): number[] {
    const ideal = idealAdc(
      {
        temperatureCelsius: conditions.temperatureCelsius + this.noise(NOISE_AT_X1.temperatureCelsius, t),
        pressureHpa: conditions.pressureHpa + this.noise(NOISE_AT_X1.pressureHpa, p),
        humidityPercent: conditions.humidityPercent + this.noise(NOISE_AT_X1.humidityPercent, h),
      },
      this.calibration,
    );
    // Resolution is 16 + (osrs - 1) bits for T and P (§3.4.2, §3.4.3): ×1 leaves the low 4 of 20 bits 0.
    let adcT = quantise(ideal.adcT, t, 0xfffff);
    let adcP = quantise(ideal.adcP, p, 0xfffff);
    const adcH = h === 0 ? 0x8000 : Math.min(0xffff, Math.round(ideal.adcH));
    const coefficient = filterCoefficient((this.registers[CONFIG]! >> 2) & 0x07);
    if (coefficient > 1 && t > 0 && p > 0) {
      // §3.4.4: x = (x_prev · (c - 1) + x_adc) / c, at 20-bit resolution. The first conversion after
      // a reset seeds the filter (the datasheet leaves its start value open).
      const previous = this.filtered ?? { adcT, adcP };
      adcT = Math.round((previous.adcT * (coefficient - 1) + adcT) / coefficient);
      adcP = Math.round((previous.adcP * (coefficient - 1) + adcP) / coefficient);
      this.filtered = { adcT, adcP };
    }
    if (t === 0) adcT = 0x80000;
    if (p === 0) adcP = 0x80000;
    return [adcP >> 12, (adcP >> 4) & 0xff, (adcP & 0x0f) << 4, adcT >> 12, (adcT >> 4) & 0xff, (adcT & 0x0f) << 4, adcH >> 8, adcH & 0xff];
  }

  /** Completes a conversion whose time has come: data registers update and the chip sleeps (§3.3.3). */
  private settle(): void {
    const conversion = this.conversion;
    if (conversion === undefined || this.clock.now() < conversion.endsAt) return;
    this.registers.set(conversion.data, PRESS_MSB);
    this.registers[CTRL_MEAS] = this.registers[CTRL_MEAS]! & ~0x03;
    this.converted = conversion.conditions ?? this.converted;
    this.conversion = undefined;
  }

  private noise(sigmaAtX1: number, oversamplingFactor: number): number {
    if (this.random === undefined || oversamplingFactor === 0) return 0;
    return (this.random.gaussian() * sigmaAtX1) / Math.sqrt(oversamplingFactor);
  }
}

/** osrs codes of Tables 20, 22, 23: 0 skips, 1..5 are ×1..×16, and 6, 7 also mean ×16. */
function oversampling(code: number): number {
  return code === 0 ? 0 : Math.min(16, 1 << (code - 1));
}

/** filter codes of Table 28: 0 off, 1..4 are 2..16, and 5..7 also mean 16. */
function filterCoefficient(code: number): number {
  return code === 0 ? 1 : Math.min(16, 1 << code);
}

function quantise(ideal: number, factor: number, max: number): number {
  if (factor === 0) return 0x80000;
  const step = 16 / factor;
  return Math.min(max - (step - 1), Math.max(0, Math.round(ideal / step) * step));
}
