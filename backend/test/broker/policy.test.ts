import { TopicScheme } from '@iot/common/protocol';
import { beforeAll, describe, expect, it } from 'vitest';
import { CredentialSet } from '../../src/broker/credentials.ts';
import { hashPassword } from '../../src/broker/password-hash.ts';
import { BrokerPolicy, type ClientIdentity } from '../../src/broker/policy.ts';

const device1: ClientIdentity = { role: 'device', username: 'dev-1-user', deviceId: 'dev-1' };
const service: ClientIdentity = { role: 'service', username: 'backend' };
// Cheap hashes: these tests are about the rules, not the key derivation.
const FAST = { N: 1024, r: 8, p: 1 };

let credentials: CredentialSet;
beforeAll(async () => {
  credentials = new CredentialSet([
    { username: 'dev-1-user', password_hash: await hashPassword('pw-dev-1', FAST), role: 'device', device_id: 'dev-1' },
    { username: 'backend', password_hash: await hashPassword('pw-backend', FAST), role: 'service' },
  ]);
});

function policy(options: { allowAnonymous?: boolean; topics?: TopicScheme; maxPayloadBytes?: number } = {}) {
  return new BrokerPolicy({ credentials, topics: options.topics ?? new TopicScheme(), maxPayloadBytes: options.maxPayloadBytes ?? 100, allowAnonymous: options.allowAnonymous ?? false });
}

describe('BrokerPolicy.authenticate', () => {
  it('identifies a device user with its device id and a service user as a service', async () => {
    expect(await policy().authenticate('dev-1-user', Buffer.from('pw-dev-1'))).toEqual({ ok: true, identity: device1 });
    expect(await policy().authenticate('backend', Buffer.from('pw-backend'))).toEqual({ ok: true, identity: service });
  });

  it('refuses a wrong password, an unknown user and a missing password with distinct reasons', async () => {
    expect(await policy().authenticate('dev-1-user', Buffer.from('pw-backend'))).toEqual({ ok: false, reason: 'wrong_password' });
    expect(await policy().authenticate('dev-1-user', Buffer.from('pw-dev-1 '))).toEqual({ ok: false, reason: 'wrong_password' });
    expect(await policy().authenticate('nobody', Buffer.from('pw-dev-1'))).toEqual({ ok: false, reason: 'unknown_user' });
    expect(await policy().authenticate('dev-1-user', undefined)).toEqual({ ok: false, reason: 'missing_password' });
  });

  it('refuses anonymous clients unless allowed, and then gives them service rights', async () => {
    expect(await policy().authenticate(undefined, undefined)).toEqual({ ok: false, reason: 'anonymous_not_allowed' });
    expect(await policy().authenticate('', undefined)).toEqual({ ok: false, reason: 'anonymous_not_allowed' });
    const open = policy({ allowAnonymous: true });
    const result = await open.authenticate(undefined, undefined);
    expect(result).toEqual({ ok: true, identity: { role: 'service', username: undefined } });
    expect(open.authorizePublish({ role: 'service', username: undefined }, 'iot-projekt/device/dev-9/request', 10)).toEqual({ ok: true });
  });
});

describe('BrokerPolicy.authorizePublish', () => {
  it('lets a device publish on exactly its own five device-to-backend topics', () => {
    const p = policy();
    for (const channel of ['response', 'values', 'readings', 'status', 'config/reported']) {
      expect(p.authorizePublish(device1, `iot-projekt/device/dev-1/${channel}`, 10), channel).toEqual({ ok: true });
    }
  });

  it("refuses a device another device's topics, its own inbound topics and anything else", () => {
    const p = policy();
    const refused = [
      'iot-projekt/device/dev-2/readings',
      'iot-projekt/device/dev-10/readings',
      'iot-projekt/device/dev-1/request',
      'iot-projekt/device/dev-1/ack',
      'iot-projekt/device/dev-1/config/desired',
      'iot-projekt/device/broadcast/control',
      'iot-projekt/device/dev-1/readings/extra',
      'iot-projekt/device/dev-1',
      'other/topic',
      '$SYS/broker/uptime',
    ];
    for (const topic of refused) {
      expect(p.authorizePublish(device1, topic, 10).ok, topic).toBe(false);
    }
    expect(p.authorizePublish(device1, 'iot-projekt/device/dev-2/readings', 10)).toEqual({ ok: false, reason: 'not_own_topic' });
  });

  it('lets a service publish anywhere except $SYS', () => {
    const p = policy();
    expect(p.authorizePublish(service, 'iot-projekt/device/dev-1/ack', 10)).toEqual({ ok: true });
    expect(p.authorizePublish(service, 'anything/else', 10)).toEqual({ ok: true });
    expect(p.authorizePublish(service, '$SYS/broker/x', 10)).toEqual({ ok: false, reason: 'reserved_topic' });
    expect(p.authorizePublish(service, '$SYS', 10)).toEqual({ ok: false, reason: 'reserved_topic' });
    expect(p.authorizePublish(service, '$SYSTEM/x', 10)).toEqual({ ok: true });
  });

  it('refuses payloads above the limit for everyone, and accepts one exactly at it', () => {
    const p = policy({ maxPayloadBytes: 100 });
    expect(p.authorizePublish(device1, 'iot-projekt/device/dev-1/readings', 100)).toEqual({ ok: true });
    expect(p.authorizePublish(device1, 'iot-projekt/device/dev-1/readings', 101)).toEqual({ ok: false, reason: 'payload_too_large' });
    expect(p.authorizePublish(service, 'x', 101)).toEqual({ ok: false, reason: 'payload_too_large' });
  });

  it('gives a device\'s values topic the larger limit of original backlogs, and no other topic (docs/protocol.md §9)', () => {
    const p = new BrokerPolicy({ credentials, topics: new TopicScheme(), maxPayloadBytes: 100, maxOriginalPayloadBytes: 5000 });
    expect(p.largestPayloadBytes).toBe(5000);
    expect(p.authorizePublish(device1, 'iot-projekt/device/dev-1/values', 5000)).toEqual({ ok: true });
    expect(p.authorizePublish(device1, 'iot-projekt/device/dev-1/values', 5001)).toEqual({ ok: false, reason: 'payload_too_large' });
    expect(p.authorizePublish(device1, 'iot-projekt/device/dev-1/readings', 101)).toEqual({ ok: false, reason: 'payload_too_large' });
    expect(p.authorizePublish(device1, 'iot-projekt/device/dev-1/status', 101)).toEqual({ ok: false, reason: 'payload_too_large' });
    expect(p.authorizePublish(service, 'iot-projekt/device/dev-1/values/x', 101)).toEqual({ ok: false, reason: 'payload_too_large' });
    // Another device's values topic is still not dev-1's to publish on.
    expect(p.authorizePublish(device1, 'iot-projekt/device/dev-2/values', 200)).toEqual({ ok: false, reason: 'not_own_topic' });
    // Never smaller than the general limit, and the general one when not given.
    expect(new BrokerPolicy({ credentials, topics: new TopicScheme(), maxPayloadBytes: 100, maxOriginalPayloadBytes: 10 }).maxPayloadFor('iot-projekt/device/dev-1/values')).toBe(100);
    expect(policy({ maxPayloadBytes: 100 }).maxPayloadFor('iot-projekt/device/dev-1/values')).toBe(100);
  });

  it('follows configured topic templates', () => {
    const p = policy({ topics: new TopicScheme({ readings: 'plant/{device_uuid}/batches' }) });
    expect(p.authorizePublish(device1, 'plant/dev-1/batches', 10)).toEqual({ ok: true });
    expect(p.authorizePublish(device1, 'iot-projekt/device/dev-1/readings', 10).ok).toBe(false);
  });
});

describe('BrokerPolicy.authorizeSubscribe', () => {
  it('lets a device subscribe to its own four backend-to-device topics, broadcast included', () => {
    const p = policy();
    for (const filter of ['iot-projekt/device/broadcast/control', 'iot-projekt/device/dev-1/request', 'iot-projekt/device/dev-1/ack', 'iot-projekt/device/dev-1/config/desired']) {
      expect(p.authorizeSubscribe(device1, filter), filter).toEqual({ ok: true });
    }
  });

  it("refuses a device wildcards and other devices' topics", () => {
    const p = policy();
    const refused = [
      'iot-projekt/device/dev-2/request',
      'iot-projekt/device/+/request',
      'iot-projekt/device/#',
      'iot-projekt/device/dev-1/#',
      'iot-projekt/device/dev-1/+',
      '#',
      '+/device/dev-1/request',
      '$share/g/iot-projekt/device/dev-1/request',
      'iot-projekt/device/dev-1/readings',
      '$SYS/#',
    ];
    for (const filter of refused) {
      expect(p.authorizeSubscribe(device1, filter), filter).toEqual({ ok: false, reason: 'not_own_topic' });
    }
  });

  it('lets a service subscribe to anything', () => {
    const p = policy();
    for (const filter of ['#', 'iot-projekt/device/+/readings', '$SYS/#']) expect(p.authorizeSubscribe(service, filter)).toEqual({ ok: true });
  });
});
