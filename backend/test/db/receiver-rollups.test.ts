import { BackendStack } from '@iot/harness';
import type { ServiceProcess } from '@iot/harness/processes';
import { eventually } from '@iot/harness/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/index.ts';
import { FakeDevice } from '../receiver/fake-device.ts';
import { expectExactRollups } from './rollup-check.ts';

const LONG = 60_000;

const logged = (process: ServiceProcess, event: string) => process.logs().filter((r) => r.event === event);

/**
 * Rollups have one owner in the backend: the receiver process. Two receiver processes on one
 * database and no web admin at all; the lease keeps the refresh to one of them.
 */
describe.each(['sqlite', 'mariadb'] as const)('chart rollups refreshed by the receivers on %s, with no web admin', (database) => {
  const stack = new BackendStack({ deviceIds: ['dev-1'], broker: 'aedes', database });
  let device: FakeDevice;
  let db: Database;

  beforeAll(async () => {
    await stack.start();
    // Without a shared group (aedes has none) both receivers get every batch: one stores it, the
    // other absorbs it as duplicates. A short lease, so the takeover below comes soon.
    for (let i = 0; i < 2; i++) await stack.startReceiver({ env: { RECEIVER_ROLLUP_LEASE_SECONDS: '3', LOG_LEVEL: 'debug' } });
    device = await FakeDevice.connect(stack.brokerPort, 'dev-1', stack.login('dev-1'));
    db = await stack.database();
  }, LONG);
  afterAll(async () => {
    await device?.close();
    await stack.dispose();
  }, LONG);

  const drained = (readings: number) =>
    eventually(async () => (await db.readings.countReadings('dev-1')) === readings && (await db.rollups.pending()) === 0, LONG, `${readings} readings stored and rolled up`);

  it('rolls up what the receivers store until rollup_dirty is empty; one receiver refreshes, the other stands by', async () => {
    expect(stack.webAdmins).toHaveLength(0);
    for (let i = 0; i < 5; i++) await device.deliver(device.batch(device.entries(200)));
    await drained(1000);
    await expectExactRollups(db);
    expect((await db.rollups.progress()).get('dev-1')?.generation).toBeGreaterThan(0);

    const holders = stack.receivers.filter((r) => logged(r, 'rollup_lease_acquired').length > 0);
    expect(holders).toHaveLength(1);
    const standby = stack.receivers.find((r) => r !== holders[0]) as ServiceProcess;
    expect(logged(standby, 'rollup_lease_standby')).toHaveLength(1);
    expect(logged(standby, 'rollups_refreshed')).toEqual([]);
  }, LONG);

  it('takes the lease over from a receiver killed while holding it, once the lease expired', async () => {
    const holder = stack.receivers.find((r) => logged(r, 'rollup_lease_acquired').length > 0) as ServiceProcess;
    const other = stack.receivers.find((r) => r !== holder) as ServiceProcess;
    const holderOwner = logged(holder, 'rollup_lease_acquired')[0]?.owner;
    await holder.kill();
    await device.deliver(device.batch(device.entries(300)));
    const takeover = await other.waitForLog((r) => r.event === 'rollup_lease_acquired', LONG, 'the other receiver to take the rollup lease over');
    expect(takeover.took_over_from).toBe(holderOwner);
    await drained(1300);
    await expectExactRollups(db);
  }, LONG);
});
