import type { Database } from '@iot/backend/db';
import { checkDelivery, type DeliveryReport, type StoredReading } from '../checker/delivery-checker.ts';
import type { DeviceUnderTest } from './under-test.ts';

/** Every reading the database holds for these devices, in the checker's terms. */
export async function storedReadings(db: Database, deviceIds: readonly string[]): Promise<StoredReading[]> {
  const rows: StoredReading[] = [];
  for (const deviceId of deviceIds) {
    for (let afterId = 0; ; ) {
      const page = await db.readings.listReadings(deviceId, { afterId, limit: 5000 });
      if (page.length === 0) break;
      for (const r of page) rows.push({ deviceId, readingKey: r.key, measuredAt: r.measuredAt, receivedAt: r.receivedAt, values: r.values });
      afterId = page.at(-1)!.id;
    }
  }
  return rows;
}

/** Stops the sensors cleanly, waits until every backlog reached the database, runs the checker. */
export async function checkSystem(
  db: Database,
  devices: readonly Pick<DeviceUnderTest, 'id' | 'history' | 'stopSensor' | 'drained'>[],
  timeoutMs = 60_000,
): Promise<DeliveryReport> {
  await Promise.all(devices.map((d) => d.stopSensor()));
  await Promise.all(devices.map((d) => d.drained(timeoutMs)));
  return checkDelivery(
    devices.flatMap((d) => d.history()),
    await storedReadings(db, devices.map((d) => d.id)),
  );
}
