import { statSync } from 'node:fs';
import { loadCredentials, verifyPassword } from '@iot/backend/broker';
import { describe, expect, it } from 'vitest';
import { Credentials } from '../src/harness/credentials.ts';
import { makeTempDir } from '../src/processes/temp-dir.ts';

describe('simulated MQTT credentials', () => {
  it('draws every password at random, per system, and writes the file for its owner only', async () => {
    const dirs = [makeTempDir('credentials'), makeTempDir('credentials')];
    try {
      const [first, second] = await Promise.all(dirs.map((d) => Credentials.create(d.path, ['dev-1'])));
      const names = ['receiver', 'operator', 'webadmin', 'dev-1'];
      for (const name of names) {
        const a = first!.login(name).password;
        const b = second!.login(name).password;
        expect(a, name).not.toBe(b);
        expect(a, name).not.toContain('secret');
        expect(a.length, name).toBeGreaterThanOrEqual(24);
      }
      // The broker accepts exactly these passwords.
      const set = loadCredentials(first!.file);
      for (const name of names) {
        const user = set.find(name);
        expect(user, name).toBeDefined();
        expect(await verifyPassword(first!.login(name).password, user!.password_hash), name).toBe(true);
      }
      expect(statSync(first!.file).mode & 0o777).toBe(0o600);
    } finally {
      for (const d of dirs) d.remove();
    }
  });
});
