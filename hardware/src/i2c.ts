/**
 * The I2C bus contract. It covers both shapes of chip found on sensor boards: register-based chips
 * (BME280: write a register pointer, then read or write bytes from there) and command-based chips
 * (SHT31: write a 16-bit command, later read a raw frame). Addresses are 7-bit (0x03–0x77).
 *
 * Every method rejects with an {@link I2cError} subclass from `./errors.ts`: {@link I2cNackError}
 * when nothing acknowledges the address or a byte, {@link I2cTimeoutError} when the bus is stuck,
 * {@link I2cClosedError} after close.
 */
export interface I2cBus {
  /** The bus number, as in /dev/i2c-N. Bus 1 is on GPIO 2 (SDA) and 3 (SCL) on a Raspberry Pi. */
  readonly busNumber: number;

  /** Reads one byte from `register` (SMBus "read byte data"). */
  readByte(address: number, register: number): Promise<number>;

  /** Writes one byte to `register` (SMBus "write byte data"). */
  writeByte(address: number, register: number, value: number): Promise<void>;

  /**
   * Reads `length` bytes starting at `register`, in one transaction (the chip auto-increments its
   * register pointer). `length` is 1–32.
   */
  readBlock(address: number, register: number, length: number): Promise<Uint8Array>;

  /** Writes `data` starting at `register`, in one transaction. `data.length` is 1–32. */
  writeBlock(address: number, register: number, data: Uint8Array): Promise<void>;

  /** Plain I2C write of raw bytes (no register byte), e.g. a 16-bit command. */
  write(address: number, data: Uint8Array): Promise<void>;

  /** Plain I2C read of `length` raw bytes (no register byte), e.g. a measurement frame. */
  read(address: number, length: number): Promise<Uint8Array>;

  /** Releases the bus. Later calls reject with I2cClosedError; calling close again is harmless. */
  close(): Promise<void>;
}
