import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '@iot/common/config';
import { makeTempDir } from '@iot/harness/processes';
import { afterEach, describe, expect, it } from 'vitest';
import { loadCredentialFile, loadCredentials, parseCredentials, saveCredentialFile } from '../../src/broker/credentials.ts';

/** A well-formed hash (of nothing in particular): these tests are about the file, not passwords. */
const HASH = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';

const dirs: { remove(): void }[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) d.remove();
});
function tempFile(content: string): string {
  const dir = makeTempDir('creds');
  dirs.push(dir);
  const path = join(dir.path, 'credentials.json');
  writeFileSync(path, content);
  return path;
}

function problemsOf(run: () => unknown): readonly string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('credential file', () => {
  it('loads device and service users', () => {
    const path = tempFile(
      JSON.stringify({
        users: [
          { username: 'dev-1', password_hash: HASH, role: 'device', device_id: 'dev-1' },
          { username: 'receiver@backend', password_hash: HASH, role: 'service' },
        ],
      }),
    );
    const set = loadCredentials(path);
    expect(set.users).toHaveLength(2);
    expect(set.find('dev-1')).toEqual({ username: 'dev-1', password_hash: HASH, role: 'device', device_id: 'dev-1' });
    expect(set.find('receiver@backend')?.role).toBe('service');
    expect(set.find('nobody')).toBeUndefined();
  });

  it('reports every problem at once, each with the file, the user index and what is wrong', () => {
    const path = tempFile(
      JSON.stringify({
        users: [
          { username: 'dev-1', password_hash: HASH, role: 'device' },
          { username: 'dev-2', password_hash: HASH, role: 'device', device_id: 'dev/2' },
          { username: 'ok', password_hash: 'plaintext', role: 'service' },
          { username: 'dev-1', password_hash: HASH, role: 'service' },
          { username: 'x', password_hash: HASH, role: 'admin' },
          { username: 'has space', password_hash: HASH, role: 'service' },
          { username: 'svc', password_hash: HASH, role: 'service', device_id: 'dev-9' },
          { username: 'b', password_hash: HASH, role: 'device', device_id: 'broadcast' },
        ],
      }),
    );
    const problems = problemsOf(() => loadCredentials(path));
    expect(problems).toHaveLength(8);
    for (const p of problems) expect(p.startsWith(`${path}: users[`)).toBe(true);
    expect(problems.find((p) => p.includes('users[0]'))).toMatch(/users\[0\] \(username "dev-1"\): device_id: /);
    expect(problems.find((p) => p.includes('users[1]'))).toMatch(/device_id: must be a device id/);
    expect(problems.find((p) => p.includes('users[2]'))).toMatch(/password_hash: must look like scrypt/);
    expect(problems.find((p) => p.includes('users[3]'))).toMatch(/username: "dev-1" is already used by users\[0\]/);
    expect(problems.find((p) => p.includes('users[4]'))).toMatch(/role must be "device" or "service"/);
    expect(problems.find((p) => p.includes('users[5]'))).toMatch(/username: must be 1–128 of/);
    expect(problems.find((p) => p.includes('users[6]'))).toMatch(/device_id/);
    expect(problems.find((p) => p.includes('users[7]'))).toMatch(/not "broadcast"/);
  });

  it('reports a missing file, bad JSON and a wrong shape as configuration errors', () => {
    expect(problemsOf(() => loadCredentialFile('/nonexistent/credentials.json'))[0]).toMatch(/^\/nonexistent\/credentials\.json: cannot read the credential file/);
    const bad = tempFile('{ "users": [ ');
    expect(problemsOf(() => loadCredentialFile(bad))[0]).toMatch(/: not valid JSON/);
    expect(problemsOf(() => parseCredentials({ people: [] }, 'inline'))).toEqual(['inline: users: Invalid input: expected array, received undefined', 'inline: Unrecognized key: "people"']);
  });

  it('saves a file that loads back unchanged, readable by its owner only', async () => {
    const dir = makeTempDir('creds');
    dirs.push(dir);
    const path = join(dir.path, 'c.json');
    const file = { users: [{ username: 'dev-1', password_hash: HASH, role: 'device' as const, device_id: 'dev-1' }] };
    saveCredentialFile(path, file);
    expect(loadCredentialFile(path)).toEqual(file);
    const { statSync } = await import('node:fs');
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });
});
