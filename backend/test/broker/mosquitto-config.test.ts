import { readFileSync } from 'node:fs';
import { TopicScheme } from '@iot/common/protocol';
import { makeTempDir } from '@iot/harness/processes';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CredentialUser } from '../../src/broker/credentials.ts';
import { renderMosquittoAcl, renderMosquittoConf, writeMosquittoFiles } from '../../src/broker/mosquitto-config.ts';
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

describe('Mosquitto ACL', () => {
  it('grants a device its own topics line by line and a service everything', () => {
    const acl = renderMosquittoAcl({ users, topics: new TopicScheme() });
    const body = acl.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    expect(body).toEqual([
      'user dev-1-user',
      'topic write iot-projekt/device/dev-1/response',
      'topic write iot-projekt/device/dev-1/values',
      'topic write iot-projekt/device/dev-1/readings',
      'topic write iot-projekt/device/dev-1/status',
      'topic write iot-projekt/device/dev-1/config/reported',
      'topic read iot-projekt/device/broadcast/control',
      'topic read iot-projekt/device/dev-1/request',
      'topic read iot-projekt/device/dev-1/ack',
      'topic read iot-projekt/device/dev-1/config/desired',
      'user backend',
      'topic readwrite #',
    ]);
  });

  it('gives anonymous clients service rights before any user block only when asked', () => {
    const open = renderMosquittoAcl({ users: [], topics: new TopicScheme(), allowAnonymous: true });
    expect(open.split('\n').filter((l) => l !== '' && !l.startsWith('#'))).toEqual(['topic readwrite #']);
    expect(renderMosquittoAcl({ users: [], topics: new TopicScheme() }).split('\n').filter((l) => l !== '' && !l.startsWith('#'))).toEqual([]);
  });

  it('follows configured templates', () => {
    const acl = renderMosquittoAcl({ users: [users[0]!], topics: new TopicScheme({ request: 'fleet/{device_uuid}/cmd' }) });
    expect(acl).toContain('\ntopic read fleet/dev-1/cmd\n');
    expect(acl).not.toContain('dev-1/request');
  });
});

describe('mosquitto.conf', () => {
  it('refuses anonymous clients, limits payload and packet size and does not persist', () => {
    const conf = renderMosquittoConf({ passwordFile: '/p/passwd', aclFile: '/p/acl', maxPayloadBytes: 1024, maxPacketBytes: 70_659, listener: { port: 1884, host: '127.0.0.1' } });
    expect(conf.split('\n').filter((l) => l !== '' && !l.startsWith('#'))).toEqual([
      'listener 1884 127.0.0.1',
      'allow_anonymous false',
      'password_file /p/passwd',
      'acl_file /p/acl',
      // The values topic's default limit (16 MiB), which Mosquitto's one global limit must admit.
      'message_size_limit 16777216',
      'max_packet_size 16846851',
      'persistence false',
    ]);
  });

  it('states one global limit: the values topic\'s, larger one (docs/security.md §4)', () => {
    const conf = renderMosquittoConf({ passwordFile: '/p/passwd', aclFile: '/p/acl', maxPayloadBytes: 1024, maxPacketBytes: 70_659, maxOriginalPayloadBytes: 4096 });
    expect(conf).toContain('\nmessage_size_limit 4096\n');
    expect(conf).toContain('\nmax_packet_size 73731\n');
    const same = renderMosquittoConf({ passwordFile: '/p/passwd', aclFile: '/p/acl', maxPayloadBytes: 1024, maxPacketBytes: 70_659, maxOriginalPayloadBytes: 1024 });
    expect(same).toContain('\nmessage_size_limit 1024\nmax_packet_size 70659\n');
  });
});

describe('writeMosquittoFiles', () => {
  it('hashes the password file with mosquitto_passwd, leaving no plain password behind', async () => {
    const dir = makeTempDir('mosq-files');
    dirs.push(dir);
    const files = await writeMosquittoFiles(dir.path, {
      users,
      topics: new TopicScheme(),
      passwords: new Map([
        ['dev-1-user', 'pw one'],
        ['backend', 'pw two'],
      ]),
      maxPayloadBytes: 1024,
      maxPacketBytes: 70_659,
    });
    const passwd = readFileSync(files.passwordFile, 'utf8').trim().split('\n');
    // Mosquitto 2's own format: PBKDF2-SHA512, `$7$<iterations>$<salt>$<hash>` (mosquitto_passwd(1)).
    expect(passwd.map((l) => l.replace(/\$7\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/, '<hash>'))).toEqual(['dev-1-user:<hash>', 'backend:<hash>']);
    expect(readFileSync(files.passwordFile, 'utf8')).not.toContain('pw one');
    expect(files.conf).toContain(`password_file ${files.passwordFile}\n`);
    expect(files.conf).toContain(`acl_file ${files.aclFile}\n`);
  });

  it('refuses a missing, wrong or unrepresentable plain password', async () => {
    const dir = makeTempDir('mosq-files');
    dirs.push(dir);
    const attempt = (passwords: [string, string][]) =>
      writeMosquittoFiles(dir.path, { users, topics: new TopicScheme(), passwords: new Map(passwords), maxPayloadBytes: 1, maxPacketBytes: 100 });
    await expect(attempt([['dev-1-user', 'pw one']])).rejects.toThrow('no plain password given for "backend"');
    await expect(attempt([['dev-1-user', 'pw one'], ['backend', 'pw three']])).rejects.toThrow('the plain password given for "backend" does not match its hash');
    await expect(attempt([['dev-1-user', 'pw: one'], ['backend', 'pw two']])).rejects.toThrow('the password of "dev-1-user" contains a line break or ":"');
  });
});
