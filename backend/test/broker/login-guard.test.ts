import { TopicScheme } from '@iot/common/protocol';
import { beforeAll, describe, expect, it } from 'vitest';
import { CredentialSet } from '../../src/broker/credentials.ts';
import { LoginGuard } from '../../src/broker/login-guard.ts';
import { hashPassword } from '../../src/broker/password-hash.ts';
import { BrokerPolicy } from '../../src/broker/policy.ts';

const FAST = { N: 1024, r: 8, p: 1 };
let policy: BrokerPolicy;
beforeAll(async () => {
  const credentials = new CredentialSet([{ username: 'dev-1-user', password_hash: await hashPassword('pw', FAST), role: 'device', device_id: 'dev-1' }]);
  policy = new BrokerPolicy({ credentials, topics: new TopicScheme(), maxPayloadBytes: 100, allowAnonymous: true });
});
const attempt = (over: Partial<Parameters<LoginGuard['login']>[0]> = {}) => ({ username: 'dev-1-user', password: 'pw', clientId: 'device-dev-1', remoteAddress: '192.0.2.1', ...over });

describe('LoginGuard', () => {
  it('checks the client id only after the password, so only a credential holder learns about ids', async () => {
    const guard = new LoginGuard({ policy });
    expect(await guard.login(attempt())).toMatchObject({ ok: true, identity: { deviceId: 'dev-1' } });
    expect(await guard.login(attempt({ password: 'no', clientId: 'receiver-1' }))).toEqual({ ok: false, reason: 'wrong_password' });
    expect(await guard.login(attempt({ clientId: 'receiver-1' }))).toEqual({ ok: false, reason: 'client_id_not_owned' });
  });

  it('answers "busy" without hashing when too many untrusted logins wait, and gives the reservation back', async () => {
    const guard = new LoginGuard({ policy, limits: { burst: 2 }, hashing: { concurrency: 1, maxWaiting: 0 } });
    const first = guard.login(attempt({ remoteAddress: '192.0.2.9', password: 'no' }));
    expect(await guard.login(attempt({ remoteAddress: '192.0.2.9', password: 'no' }))).toEqual({ ok: false, reason: 'busy' });
    expect(await first).toEqual({ ok: false, reason: 'wrong_password' });
    // The busy attempt cost no token: the address still has one of its two.
    expect(await guard.login(attempt({ remoteAddress: '192.0.2.9', password: 'no' }))).toEqual({ ok: false, reason: 'wrong_password' });
    expect(await guard.login(attempt({ remoteAddress: '192.0.2.9' }))).toMatchObject({ ok: false, reason: 'throttled' });
  });

  it('does not throttle anonymous clients, which have no password to guess', async () => {
    const guard = new LoginGuard({ policy, limits: { burst: 1 } });
    for (let i = 0; i < 5; i++) expect(await guard.login(attempt({ username: undefined, password: undefined, clientId: `anon-${i}` }))).toMatchObject({ ok: true });
  });
});
