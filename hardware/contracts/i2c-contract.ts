import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { I2cClosedError, I2cNackError, type I2cBus } from '../src/index.ts';

/** A bus with a BME280 on it, and an address where nothing answers. */
export interface I2cFixture {
  bus: I2cBus;
  /** Where the BME280 sits: 0x76 (SDO to GND) or 0x77 (SDO to VDDIO). */
  bme280Address: number;
  /** An address no chip on this bus acknowledges. */
  absentAddress: number;
  /** Releases everything the fixture made (at least `bus.close()`). */
  teardown(): Promise<void>;
}

// BME280 datasheet (BST-BME280-DS002), §5.3 memory map and §5.4 register description.
const CHIP_ID_REGISTER = 0xd0;
const BME280_CHIP_ID = 0x60;
const CALIBRATION_START = 0x88; // calib00..calib25 at 0x88..0xA1; the block read covers 0x88..0x9F.
const CTRL_HUM = 0xf2;
const CTRL_HUM_WRITABLE = 0b0000_0111; // osrs_h[2:0]; bits 7:3 are unused (§5.4.3).

/**
 * The I2C contract from `device/src/hardware/i2c.ts`, checked against a real register chip: the
 * BME280 is on nearly every sensor board this project supports and has a fixed chip id.
 */
export function describeI2cContract(name: string, makeFixture: () => Promise<I2cFixture>): void {
  describe(`I2C contract: ${name}`, () => {
    let fixture: I2cFixture;
    let bus: I2cBus;
    let address: number;

    beforeEach(async () => {
      fixture = await makeFixture();
      bus = fixture.bus;
      address = fixture.bme280Address;
    });

    afterEach(async () => {
      await fixture.teardown();
    });

    it('reads the chip id register 0xD0 as 0x60 with readByte and readBlock', async () => {
      expect(await bus.readByte(address, CHIP_ID_REGISTER)).toBe(BME280_CHIP_ID);
      expect([...(await bus.readBlock(address, CHIP_ID_REGISTER, 1))]).toEqual([BME280_CHIP_ID]);
    });

    it('reads the chip id with a plain write of the register pointer and a plain read', async () => {
      // §6.2.2: a read is "write register address, then read"; the BME280 keeps the pointer
      // across a stop condition, so two separate transactions work as well as a repeated start.
      await bus.write(address, Uint8Array.of(CHIP_ID_REGISTER));
      expect([...(await bus.read(address, 1))]).toEqual([BME280_CHIP_ID]);
    });

    it('reads 24 calibration bytes from 0x88 in one block, equal to reading them one by one', async () => {
      const block = await bus.readBlock(address, CALIBRATION_START, 24);
      expect(block).toBeInstanceOf(Uint8Array);
      expect(block.length).toBe(24);
      const single: number[] = [];
      for (let offset = 0; offset < 24; offset++) single.push(await bus.readByte(address, CALIBRATION_START + offset));
      expect([...block]).toEqual(single);
      // dig_T1 (0x88/0x89, unsigned, little-endian) is a trimmed gain: never 0 or erased flash.
      const digT1 = block[0]! | (block[1]! << 8);
      expect(digT1).not.toBe(0);
      expect(digT1).not.toBe(0xffff);
    });

    it('reads back what writeByte and writeBlock put into ctrl_hum (0xF2), in the writable bits', async () => {
      const original = await bus.readByte(address, CTRL_HUM);
      try {
        await bus.writeByte(address, CTRL_HUM, 0b101); // osrs_h = oversampling ×16
        expect((await bus.readByte(address, CTRL_HUM)) & CTRL_HUM_WRITABLE).toBe(0b101);
        await bus.writeBlock(address, CTRL_HUM, Uint8Array.of(0b010)); // ×2
        expect((await bus.readByte(address, CTRL_HUM)) & CTRL_HUM_WRITABLE).toBe(0b010);
      } finally {
        await bus.writeByte(address, CTRL_HUM, original);
      }
    });

    it('rejects an address with no chip with I2cNackError naming bus and address', async () => {
      const error = await bus.readByte(fixture.absentAddress, CHIP_ID_REGISTER).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(I2cNackError);
      expect((error as I2cNackError).address).toBe(fixture.absentAddress);
      expect((error as I2cNackError).busNumber).toBe(bus.busNumber);
      await expect(bus.readBlock(fixture.absentAddress, CHIP_ID_REGISTER, 2)).rejects.toBeInstanceOf(I2cNackError);
      await expect(bus.writeByte(fixture.absentAddress, CTRL_HUM, 0)).rejects.toBeInstanceOf(I2cNackError);
      await expect(bus.read(fixture.absentAddress, 1)).rejects.toBeInstanceOf(I2cNackError);
    });

    it('rejects a block length outside 1..32 with RangeError', async () => {
      await expect(bus.readBlock(address, CALIBRATION_START, 33)).rejects.toBeInstanceOf(RangeError);
      await expect(bus.readBlock(address, CALIBRATION_START, 0)).rejects.toBeInstanceOf(RangeError);
    });

    it('rejects every method after close with I2cClosedError, and close twice is harmless', async () => {
      await bus.close();
      await bus.close();
      await expect(bus.readByte(address, CHIP_ID_REGISTER)).rejects.toBeInstanceOf(I2cClosedError);
      await expect(bus.writeByte(address, CTRL_HUM, 0)).rejects.toBeInstanceOf(I2cClosedError);
      await expect(bus.readBlock(address, CHIP_ID_REGISTER, 1)).rejects.toBeInstanceOf(I2cClosedError);
      await expect(bus.writeBlock(address, CTRL_HUM, Uint8Array.of(0))).rejects.toBeInstanceOf(I2cClosedError);
      await expect(bus.write(address, Uint8Array.of(CHIP_ID_REGISTER))).rejects.toBeInstanceOf(I2cClosedError);
      await expect(bus.read(address, 1)).rejects.toBeInstanceOf(I2cClosedError);
    });
  });
}
