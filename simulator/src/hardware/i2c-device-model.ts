/**
 * A simulated I2C target (slave) at the transaction level, as the chip sees the bus: each write
 * transaction delivers the bytes after the address byte, each read transaction asks for N bytes.
 * Register-based chips treat the first written byte as the register pointer; command-based chips
 * treat written bytes as commands. That split is the model's business, not the bus's.
 */
export interface I2cDeviceModel {
  /** One write transaction. Throw {@link ModelNack} to not acknowledge (e.g. busy, bad command). */
  write(data: Uint8Array): void;
  /** One read transaction of `length` bytes. Throw {@link ModelNack} to not acknowledge the address. */
  read(length: number): Uint8Array;
}

/** Thrown by a model to NACK the current transaction; the bus turns it into I2cNackError. */
export class ModelNack extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'ModelNack';
  }
}
