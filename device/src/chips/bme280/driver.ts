import type { Clock } from '@iot/common/clock';
import { QUANTITY, type Quantity } from '@iot/common/protocol';
import { ChipConversionTimeoutError, ChipIdentityError, hex, ImplausibleValueError } from '@iot/hardware';
import type { I2cBus } from '@iot/hardware';
import type { ChipDriver, ChipDriverOptions, Sample } from '../chip.ts';
import { type Bme280Calibration, parseCalibration } from './calibration.ts';
import { compensate } from './compensation.ts';
import {
  ADC_RESET_16BIT,
  ADC_RESET_20BIT,
  BME280_CHIP_ID,
  CALIB_H_LENGTH,
  CALIB_TP_LENGTH,
  configValue,
  ctrlHumValue,
  ctrlMeasValue,
  DATA_LENGTH,
  decodeData,
  FILTER_CODE,
  type FilterCoefficient,
  MODE_FORCED,
  MODE_SLEEP,
  type Oversampling,
  OVERSAMPLING_CODE,
  REG_CALIB_H,
  REG_CALIB_TP,
  REG_CHIP_ID,
  REG_CONFIG,
  REG_CTRL_HUM,
  REG_CTRL_MEAS,
  REG_DATA,
  REG_RESET,
  REG_STATUS,
  SOFT_RESET_COMMAND,
  STATUS_IM_UPDATE,
  STATUS_MEASURING,
} from './registers.ts';
import { measurementTimeMaxMs, measurementTimeTypicalMs, NVM_COPY_MAX_MS } from './timing.ts';

export interface Bme280Oversampling {
  temperature: Oversampling;
  pressure: Oversampling;
  humidity: Oversampling;
}

export interface Bme280DriverOptions extends ChipDriverOptions {
  /** Oversampling per quantity (§3.4.1–§3.4.3); higher means less noise and a longer conversion. Default 1 each. */
  oversampling?: Partial<Bme280Oversampling>;
  /** IIR filter coefficient for temperature and pressure (§3.4.4); default off. */
  filter?: FilterCoefficient;
}

/**
 * Operating ranges (datasheet §1: -40..85 °C, 300..1100 hPa, 0..100 %RH), widened by the chip's
 * absolute accuracy (±1 °C, ±1 hPa), because a healthy chip at the edge of its range can read that
 * far beyond it. Anything further out is a broken chip or transfer. Humidity needs no margin: the
 * compensation clamps it to 0..100 itself.
 */
const TEMPERATURE_RANGE: readonly [number, number] = [-40 - 1, 85 + 1];
const PRESSURE_RANGE: readonly [number, number] = [300 - 1, 1100 + 1];
const HUMIDITY_RANGE: readonly [number, number] = [0, 100];

/** Time between status polls once the typical conversion time has passed. */
const POLL_INTERVAL_MS = 0.5;
/** Slack on top of the datasheet maximum, for timers that wake late and bus round trips. */
const DEADLINE_MARGIN_MS = 5;

/**
 * Driver for the Bosch BME280 (datasheet BST-BME280-DS002). Each {@link read} runs one forced-mode
 * conversion: the chip measures once, returns to sleep and keeps its data registers until the next
 * one, so it draws no current between samples (§3.3.3).
 */
export class Bme280Driver implements ChipDriver {
  readonly kind = 'bme280';
  readonly quantities: readonly Quantity[] = [QUANTITY.temperature, QUANTITY.humidity, QUANTITY.pressure];
  readonly busNumber: number;
  readonly address: number;
  readonly oversampling: Readonly<Bme280Oversampling>;
  readonly filter: FilterCoefficient;
  private readonly bus: I2cBus;
  private readonly clock: Clock;
  private calibration: Bme280Calibration | undefined;

  constructor(options: Bme280DriverOptions) {
    this.bus = options.bus;
    this.address = options.address;
    this.busNumber = options.bus.busNumber;
    this.clock = options.clock;
    this.oversampling = {
      temperature: checkOversampling('temperature', options.oversampling?.temperature ?? 1),
      pressure: checkOversampling('pressure', options.oversampling?.pressure ?? 1),
      humidity: checkOversampling('humidity', options.oversampling?.humidity ?? 1),
    };
    this.filter = options.filter ?? 'off';
    if (!Object.hasOwn(FILTER_CODE, this.filter)) throw new RangeError(`BME280 filter must be off, 2, 4, 8 or 16, got ${this.filter}`);
  }

  /**
   * Checks the chip id, soft-resets the chip, waits for its NVM copy, loads its calibration and
   * writes the measurement configuration (the chip stays in sleep mode until {@link read}).
   *
   * @throws ChipIdentityError when the chip id is not 0x60 (e.g. a BMP280, which has no humidity).
   * @throws ChipConversionTimeoutError when the NVM copy does not finish.
   * @throws I2cError subclasses from the bus, unchanged.
   */
  async init(): Promise<void> {
    this.calibration = undefined;
    const id = await this.bus.readByte(this.address, REG_CHIP_ID);
    if (id !== BME280_CHIP_ID) {
      throw new ChipIdentityError(this.busNumber, this.address, `chip id ${hex(id)} is not a BME280 (${hex(BME280_CHIP_ID)})`);
    }
    await this.bus.writeByte(this.address, REG_RESET, SOFT_RESET_COMMAND);
    // §5.4.4: im_update is set while the reset copies the NVM into the image registers.
    await this.clock.sleep(NVM_COPY_MAX_MS);
    await this.waitForStatusClear(STATUS_IM_UPDATE, this.clock.now() + NVM_COPY_MAX_MS + DEADLINE_MARGIN_MS, 'NVM copy after reset');
    const tp = await this.bus.readBlock(this.address, REG_CALIB_TP, CALIB_TP_LENGTH);
    const h = await this.bus.readBlock(this.address, REG_CALIB_H, CALIB_H_LENGTH);
    const calibration = parseCalibration(tp, h);
    // §5.4.3: a ctrl_hum change only takes effect after the following ctrl_meas write.
    await this.bus.writeByte(this.address, REG_CTRL_HUM, ctrlHumValue(this.oversampling.humidity));
    await this.bus.writeByte(this.address, REG_CTRL_MEAS, this.ctrlMeas(MODE_SLEEP));
    // §5.4.6: config writes are only guaranteed in sleep mode, where the chip now is.
    await this.bus.writeByte(this.address, REG_CONFIG, configValue(this.filter));
    this.calibration = calibration;
  }

  /**
   * Runs one forced-mode conversion and returns temperature (°C), relative humidity (%RH) and
   * pressure (hPa).
   *
   * @throws Error when called before a successful {@link init}.
   * @throws ChipConversionTimeoutError when the chip still reports "measuring" past the datasheet maximum.
   * @throws ImplausibleValueError when the data registers hold no conversion or a value outside the operating range.
   * @throws I2cError subclasses from the bus, unchanged.
   */
  async read(): Promise<Sample> {
    const calibration = this.calibration;
    if (calibration === undefined) throw new Error(`BME280 at ${hex(this.address)} on bus ${this.busNumber}: read() before a successful init()`);
    const { temperature: t, pressure: p, humidity: h } = this.oversampling;
    await this.bus.writeByte(this.address, REG_CTRL_MEAS, this.ctrlMeas(MODE_FORCED));
    const triggeredAt = this.clock.now();
    // Appendix B §9.1: nothing to gain from polling before the typical time has passed.
    await this.clock.sleep(measurementTimeTypicalMs(t, p, h));
    await this.waitForStatusClear(STATUS_MEASURING, triggeredAt + measurementTimeMaxMs(t, p, h) + DEADLINE_MARGIN_MS, 'conversion');
    // §4: one burst read, so that all values come from the same conversion (data shadowing).
    const raw = decodeData(await this.bus.readBlock(this.address, REG_DATA, DATA_LENGTH));
    if (raw.adcT === ADC_RESET_20BIT && raw.adcP === ADC_RESET_20BIT && raw.adcH === ADC_RESET_16BIT) {
      // The reset values of all data registers (§5.3 Table 18): no conversion has written them. A
      // single 0x80000 is not proof, as it is also an ordinary reading (about 26 °C for T).
      throw new ImplausibleValueError(this.busNumber, this.address, 'raw temperature (reset value: no conversion)', raw.adcT, [0, 0xfffff]);
    }
    const values = compensate(raw, calibration);
    this.check(QUANTITY.temperature, values.temperatureCelsius, TEMPERATURE_RANGE);
    this.check(QUANTITY.pressure, values.pressureHpa, PRESSURE_RANGE);
    this.check(QUANTITY.humidity, values.humidityPercent, HUMIDITY_RANGE);
    return {
      [QUANTITY.temperature]: values.temperatureCelsius,
      [QUANTITY.humidity]: values.humidityPercent,
      [QUANTITY.pressure]: values.pressureHpa,
    };
  }

  private ctrlMeas(mode: number): number {
    return ctrlMeasValue(this.oversampling.temperature, this.oversampling.pressure, mode);
  }

  /** Polls the status register until `bit` clears, or rejects once `deadline` (clock ms) has passed. */
  private async waitForStatusClear(bit: number, deadline: number, what: string): Promise<void> {
    for (;;) {
      const status = await this.bus.readByte(this.address, REG_STATUS);
      if ((status & bit) === 0) return;
      if (this.clock.now() >= deadline) {
        throw new ChipConversionTimeoutError(this.busNumber, this.address, `${what} still running at its deadline (status ${hex(status)})`);
      }
      await this.clock.sleep(POLL_INTERVAL_MS);
    }
  }

  private check(quantity: Quantity, value: number, range: readonly [number, number]): void {
    if (!(value >= range[0] && value <= range[1])) throw new ImplausibleValueError(this.busNumber, this.address, quantity, value, range);
  }
}

function checkOversampling(quantity: string, value: number): Oversampling {
  if (!Object.hasOwn(OVERSAMPLING_CODE, value)) throw new RangeError(`BME280 ${quantity} oversampling must be 1, 2, 4, 8 or 16, got ${value}`);
  return value as Oversampling;
}
