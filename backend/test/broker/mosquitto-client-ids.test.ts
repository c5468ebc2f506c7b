import { readFileSync } from 'node:fs';
import { TopicScheme } from '@iot/common/protocol';
import { makeTempDir } from '@iot/harness/processes';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CredentialUser } from '../../src/broker/credentials.ts';
import { renderMosquittoClientIds } from '../../src/broker/mosquitto-client-ids.ts';
import { writeMosquittoFiles } from '../../src/broker/mosquitto-config.ts';
import { hashPassword } from '../../src/broker/password-hash.ts';

const FAST = { N: 1024, r: 8, p: 1 };
let users: CredentialUser[];
beforeAll(async () => {
  users = [
    { username: 'dev-1-user', password_hash: await hashPassword('pw one', FAST), role: 'device', device_id: 'dev-1' },
    { username: 'backend', password_hash: await hashPassword('pw two', FAST), role: 'service' },
  ];
});
const dirs: { remove(): void }[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) d.remove();
});
const passwords = () =>
  new Map([
    ['dev-1-user', 'pw one'],
    ['backend', 'pw two'],
  ]);

describe('Mosquitto client id binding', () => {
  it('renders one dynamic-security client per device, with its one client id and no password or role', () => {
    const config = JSON.parse(renderMosquittoClientIds(users));
    expect(config.clients).toEqual([{ username: 'dev-1-user', clientid: 'device-dev-1', roles: [] }]);
    expect(config).toMatchObject({ groups: [], roles: [], defaultACLAccess: { publishClientSend: false, publishClientReceive: false, subscribe: false, unsubscribe: false } });
  });

  it('loads the plugin in mosquitto.conf beside the password and ACL files, or says it cannot', async () => {
    const dir = makeTempDir('mosq-ids');
    dirs.push(dir);
    const base = { users, topics: new TopicScheme(), passwords: passwords(), maxPayloadBytes: 1024, maxPacketBytes: 70_659 };
    const files = await writeMosquittoFiles(dir.path, { ...base, dynamicSecurityPlugin: '/opt/mosquitto/dynsec.so' });
    expect(files.conf).toContain(`password_file ${files.passwordFile}\nacl_file ${files.aclFile}\nplugin /opt/mosquitto/dynsec.so\nplugin_opt_config_file ${files.clientIdFile}\n`);
    expect(JSON.parse(readFileSync(files.clientIdFile!, 'utf8')).clients).toHaveLength(1);

    const unbound = await writeMosquittoFiles(dir.path, { ...base, dynamicSecurityPlugin: false });
    expect(unbound.clientIdFile).toBeUndefined();
    expect(unbound.conf).not.toContain('plugin');
  });
});
