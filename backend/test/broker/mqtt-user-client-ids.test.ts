import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTempDir } from '@iot/harness/processes';
import { afterAll, describe, expect, it } from 'vitest';

const CLI = fileURLToPath(new URL('../../src/cli/mqtt-user.ts', import.meta.url));
const dir = makeTempDir('mqtt-user-ids');
afterAll(() => dir.remove());

function add(args: string[]): string {
  const result = spawnSync(process.execPath, [CLI, 'add', '--file', join(dir.path, 'credentials.json'), ...args], { input: 'secret\n', env: { PATH: process.env.PATH }, encoding: 'utf8' });
  expect(result.status, result.stderr).toBe(0);
  return result.stdout;
}

describe('mqtt-user add', () => {
  it('tells which client ids the new user must connect with (backend/src/broker/client-id-rule.ts)', () => {
    expect(add(['--username', 'pi-kitchen', '--role', 'device', '--device-id', 'kitchen'])).toMatch(/it connects with client id device-kitchen\n$/);
    expect(add(['--username', 'receiver', '--role', 'service'])).toMatch(/it connects with client ids receiver or receiver-<anything>\n$/);
  });
});
