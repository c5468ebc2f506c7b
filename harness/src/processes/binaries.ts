import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * The full path of `name` on PATH, or in the sbin directories Debian installs daemons into
 * (mariadbd, mosquitto), which are not on every user's PATH; undefined when it is not installed.
 */
export function findBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin'];
  for (const dir of dirs) {
    if (dir !== '' && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/** How to install a missing binary here, e.g. `install it with: sudo apt-get install redis-server`. */
export function installHint(debianPackage: string, otherwise: string): string {
  return existsSync('/usr/bin/apt-get') ? `install it with: sudo apt-get install ${debianPackage}` : otherwise;
}
