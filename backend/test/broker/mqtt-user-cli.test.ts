import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTempDir } from '@iot/harness/processes';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyPassword } from '../../src/broker/password-hash.ts';

const CLI = fileURLToPath(new URL('../../src/cli/mqtt-user.ts', import.meta.url));

function run(args: string[], options: { input?: string; env?: Record<string, string> } = {}) {
  const result = spawnSync(process.execPath, [CLI, ...args], {
    input: options.input ?? '',
    env: { PATH: process.env.PATH, ...options.env },
    encoding: 'utf8',
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const dirs: { remove(): void }[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) d.remove();
});
function credentialsPath(): string {
  const dir = makeTempDir('mqtt-user');
  dirs.push(dir);
  return join(dir.path, 'credentials.json');
}

describe('mqtt-user', () => {
  it('adds users with passwords from stdin or an env var, lists and removes them', async () => {
    const file = credentialsPath();
    expect(run(['add', '--file', file, '--username', 'dev-1', '--role', 'device', '--device-id', 'dev-1'], { input: 'from stdin\n' })).toMatchObject({ code: 0 });
    expect(run(['add', '--file', file, '--username', 'backend', '--role', 'service', '--password-env', 'PW'], { env: { PW: 'from env' } })).toMatchObject({ code: 0 });

    const saved = JSON.parse(readFileSync(file, 'utf8')) as { users: { username: string; password_hash: string; role: string; device_id?: string }[] };
    expect(saved.users.map(({ password_hash: _, ...rest }) => rest)).toEqual([
      { username: 'dev-1', role: 'device', device_id: 'dev-1' },
      { username: 'backend', role: 'service' },
    ]);
    // The trailing newline of stdin is not part of the password.
    expect(await verifyPassword('from stdin', saved.users[0]!.password_hash)).toBe(true);
    expect(await verifyPassword('from env', saved.users[1]!.password_hash)).toBe(true);
    expect(readFileSync(file, 'utf8')).not.toContain('from stdin');

    expect(run(['list', '--file', file]).stdout).toBe('dev-1\tdevice\tdev-1\nbackend\tservice\n');
    expect(run(['remove', '--file', file, '--username', 'dev-1'])).toMatchObject({ code: 0 });
    expect(run(['list', '--file', file]).stdout).toBe('backend\tservice\n');
  });

  it('refuses a password on the command line with exit code 2', () => {
    const file = credentialsPath();
    const result = run(['add', '--file', file, '--username', 'u', '--role', 'service', '--password', 'visible']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--password is not accepted');
    expect(run(['add', '--file', file, '--username', 'u', '--role', 'service', '--password=visible']).code).toBe(2);
  });

  it('exits 2 on bad usage, with a message', () => {
    const file = credentialsPath();
    const cases: [string[], RegExp][] = [
      [[], /a command is required/],
      [['frobnicate', '--file', file], /unknown command "frobnicate"/],
      [['add', '--username', 'u', '--role', 'service'], /--file is required/],
      [['add', '--file', file, '--username', 'u', '--role', 'admin'], /--role must be device or service/],
      [['add', '--file', file, '--username', 'u', '--role', 'device'], /--device-id is required/],
      [['add', '--file', file, '--username', 'u', '--role', 'device', '--device-id', 'a/b'], /--device-id: must be a device id/],
      [['add', '--file', file, '--username', 'with space', '--role', 'service'], /--username: must be/],
      [['list', '--file', file, '--verbose'], /Unknown option '--verbose'/],
    ];
    for (const [args, message] of cases) {
      const result = run(args, { input: 'pw\n' });
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toMatch(message);
    }
    expect(run(['add', '--file', file, '--username', 'u', '--role', 'service'], { input: '\n' })).toMatchObject({ code: 2, stderr: expect.stringMatching(/the password is empty/) });
  });

  it('exits 1 when the operation cannot be done', () => {
    const file = credentialsPath();
    run(['add', '--file', file, '--username', 'u', '--role', 'service'], { input: 'pw' });
    expect(run(['add', '--file', file, '--username', 'u', '--role', 'service'], { input: 'pw2' })).toMatchObject({ code: 1, stderr: expect.stringMatching(/already exists/) });
    expect(run(['add', '--file', file, '--username', 'u', '--role', 'service', '--replace'], { input: 'pw2' }).code).toBe(0);
    expect(run(['remove', '--file', file, '--username', 'nobody'])).toMatchObject({ code: 1, stderr: expect.stringMatching(/no user "nobody"/) });
    writeFileSync(file, '{"users": [{"username": "x"}]}');
    expect(run(['list', '--file', file])).toMatchObject({ code: 1, stderr: expect.stringMatching(/users\[0\] \(username "x"\)/) });
  });
});
