import { describe, expect, it } from 'vitest';
import { ClientIdRule, deviceClientId } from '../../src/broker/client-id-rule.ts';
import { CredentialSet, type CredentialUser } from '../../src/broker/credentials.ts';
import type { ClientIdentity } from '../../src/broker/identity.ts';

const HASH = 'scrypt$2$1$1$AAAAAAAAAAA=$AAAAAAAAAAAAAAAAAAAAAA==';
const users: CredentialUser[] = [
  { username: 'dev-1-user', password_hash: HASH, role: 'device', device_id: 'dev-1' },
  { username: 'dev-user', password_hash: HASH, role: 'device', device_id: 'dev' },
  { username: 'receiver', password_hash: HASH, role: 'service' },
  { username: 'receiver-eu', password_hash: HASH, role: 'service' },
  { username: 'webadmin', password_hash: HASH, role: 'service' },
];
const rule = new ClientIdRule(new CredentialSet(users));
const dev1: ClientIdentity = { role: 'device', username: 'dev-1-user', deviceId: 'dev-1' };
const dev: ClientIdentity = { role: 'device', username: 'dev-user', deviceId: 'dev' };
const service = (username: string | undefined): ClientIdentity => ({ role: 'service', username });
const allowed = (identity: ClientIdentity, clientId: string) => rule.check(identity, clientId).ok;

describe('ClientIdRule', () => {
  it('lets a device use exactly device-<deviceId>, the id the uplink sends', () => {
    expect(deviceClientId('dev-1')).toBe('device-dev-1');
    expect(allowed(dev1, 'device-dev-1')).toBe(true);
    for (const id of ['dev-1', 'device-dev-1-2', 'device-dev-10', 'Device-dev-1', 'receiver-1', 'webadmin', 'aedes_0f3c', 'test-1234', '']) {
      expect(allowed(dev1, id), id).toBe(false);
    }
    expect(rule.check(dev1, 'receiver-1')).toEqual({ ok: false, reason: 'client_id_not_owned' });
  });

  it('does not let device "dev" take device "dev-1"\'s id, though one id starts with the other', () => {
    expect(allowed(dev, 'device-dev')).toBe(true);
    expect(allowed(dev, 'device-dev-1')).toBe(false);
  });

  it("gives a service its own name and name-* and keeps it out of devices' and other services' ids", () => {
    expect(['receiver', 'receiver-1', 'receiver-2'].map((id) => allowed(service('receiver'), id))).toEqual([true, true, true]);
    expect(allowed(service('webadmin'), 'receiver-1')).toBe(false);
    expect(allowed(service('receiver'), 'webadmin-1')).toBe(false);
    expect(allowed(service('receiver'), 'device-dev-1')).toBe(false);
    // Nested names: the longest owns the id.
    expect(allowed(service('receiver-eu'), 'receiver-eu-1')).toBe(true);
    expect(allowed(service('receiver'), 'receiver-eu-1')).toBe(false);
    expect(allowed(service('receiver-eu'), 'receiver-1')).toBe(false);
    expect(rule.serviceOwner('receivers')).toBeUndefined();
  });

  it('leaves ids nobody owns to services and anonymous clients', () => {
    for (const id of ['device-cli-4711', 'stub-receiver', 'aedes_0f3c', 'test-1234']) {
      expect(allowed(service('webadmin'), id), id).toBe(true);
      expect(allowed(service(undefined), id), id).toBe(true);
    }
    expect(allowed(service(undefined), 'receiver-1')).toBe(false);
  });
});
