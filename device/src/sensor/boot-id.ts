import { closeSync, openSync, readSync } from 'node:fs';

/**
 * A new boot id: 16 hex digits from the kernel's random source. Not from node:crypto, which
 * would cost a small device about 4 MB of RSS for these 8 bytes (npm run bench:device-footprint);
 * it is only the fallback where there is no /dev/urandom.
 */
export function newBootId(): string {
  const bytes = Buffer.alloc(8);
  let fd: number | undefined;
  try {
    fd = openSync('/dev/urandom', 'r');
    if (readSync(fd, bytes, 0, bytes.length, null) === bytes.length) return bytes.toString('hex');
  } catch {
    // No /dev/urandom here: take the fallback below.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return process.getBuiltinModule('node:crypto').randomBytes(bytes.length).toString('hex');
}
