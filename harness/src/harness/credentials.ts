import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { type CredentialUser, hashPassword, saveCredentialFile } from '@iot/backend/broker';

export interface Login {
  username: string;
  password: string;
}

/**
 * MQTT users for a simulated system: one per device (username = device id) and the backend's
 * service users. Written as the broker's credential file; the plain passwords stay here so
 * services (and Mosquitto's password file) can be given them.
 *
 * Passwords are drawn at random for every system started: a fixed one (`operator-secret`) would
 * be a known login to any broker an `npm start` left reachable (docs/security.md §2).
 */
export class Credentials {
  readonly file: string;
  readonly users: CredentialUser[];
  readonly passwords: Map<string, string>;

  private constructor(file: string, users: CredentialUser[], passwords: Map<string, string>) {
    this.file = file;
    this.users = users;
    this.passwords = passwords;
  }

  static async create(dir: string, deviceIds: readonly string[], services: readonly string[] = ['receiver', 'operator', 'webadmin']): Promise<Credentials> {
    const passwords = new Map<string, string>();
    const users: CredentialUser[] = [];
    for (const name of services) {
      const password = randomPassword();
      passwords.set(name, password);
      users.push({ username: name, password_hash: await hashPassword(password), role: 'service' });
    }
    for (const id of deviceIds) {
      const password = randomPassword();
      passwords.set(id, password);
      users.push({ username: id, password_hash: await hashPassword(password), role: 'device', device_id: id });
    }
    const file = join(dir, 'mqtt-credentials.json');
    saveCredentialFile(file, { users });
    return new Credentials(file, users, passwords);
  }

  login(username: string): Login {
    const password = this.passwords.get(username);
    if (password === undefined) throw new Error(`no MQTT user "${username}" in the simulated credentials`);
    return { username, password };
  }
}

/** 144 random bits, URL-safe, so it passes through environment variables and CLI flags unquoted. */
function randomPassword(): string {
  return randomBytes(18).toString('base64url');
}
