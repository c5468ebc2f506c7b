/**
 * The SHT3x checksum (datasheet §4.12, Table 19): CRC-8 with polynomial 0x31 (x^8 + x^5 + x^4 + 1),
 * initialisation 0xFF, no reflection of input or output, final XOR 0x00. The chip appends one such
 * byte after every 16-bit word it sends; the datasheet's test vector is CRC(0xBEEF) = 0x92.
 */
export const SHT3X_CRC_POLYNOMIAL = 0x31;
export const SHT3X_CRC_INIT = 0xff;

/** Computes the SHT3x CRC-8 over `bytes` (normally the two bytes of one word, MSB first). */
export function sht3xCrc8(bytes: ArrayLike<number>): number {
  let crc = SHT3X_CRC_INIT;
  for (let i = 0; i < bytes.length; i++) {
    crc ^= bytes[i]! & 0xff;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x80 ? ((crc << 1) ^ SHT3X_CRC_POLYNOMIAL) & 0xff : (crc << 1) & 0xff;
    }
  }
  return crc;
}
