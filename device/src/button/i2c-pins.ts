/**
 * BCM pins that carry SDA and SCL of each I2C bus on a Raspberry Pi. Bus 1 is the header's I2C
 * (pins 3 and 5); bus 0 is the HAT ID EEPROM bus; buses 3–6 are the Pi 4 overlays at their
 * default pins (firmware overlays README: i2c3 pins_4_5, i2c4 pins_6_7, i2c5 pins_12_13,
 * i2c6 pins_22_23).
 */
export const I2C_BUS_PINS: Readonly<Record<number, { sda: number; scl: number }>> = {
  0: { sda: 0, scl: 1 },
  1: { sda: 2, scl: 3 },
  3: { sda: 4, scl: 5 },
  4: { sda: 6, scl: 7 },
  5: { sda: 12, scl: 13 },
  6: { sda: 22, scl: 23 },
};

/** Why `pin` cannot be a button while sensors use `bus`, or undefined if it can. */
export function i2cPinConflict(pin: number, bus: number): string | undefined {
  const pins = I2C_BUS_PINS[bus];
  if (pins === undefined) return undefined;
  if (pin === pins.sda) return `GPIO ${pin} is SDA of I2C bus ${bus}`;
  if (pin === pins.scl) return `GPIO ${pin} is SCL of I2C bus ${bus}`;
  return undefined;
}
