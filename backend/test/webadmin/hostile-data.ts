import type { Database, NewReading } from '../../src/db/index.ts';

/** The largest epoch ms a Date can hold: one more cannot be shown as a date. */
export const PAST_LAST_DATE = 8.64e15 + 1;
export const HOSTILE_DEVICE = 'dev-odd';
/** A device running the original software (no sequence numbers) whose stored times include garbage. */
export const HOSTILE_ORIGINAL = 'dev-odd-original';
/** Readings of HOSTILE_DEVICE stored with the clock-skew flag (all of boot b0b0b0b0). */
export const SKEWED_READINGS = 2;
/** Metric names that are also Object.prototype's property names. */
export const PROTOTYPE_METRICS = ['constructor', '__proto__', 'toString', 'hasOwnProperty'] as const;

/**
 * What a database can hold that no device should send, seeded through the stores and plain SQL:
 * times past the last Date (and, in SQLite, a REAL of 1e300 in a BIGINT column), a first-seen time
 * far before the first, readings whose metrics are named like Object's own properties, and one
 * reading whose values are not JSON at all, readings carrying the clock-skew flag (set by plain
 * SQL, as the receiver would store them), and an original device whose readings mix good times,
 * a flagged impossible one and unflagged garbage. The web admin must show all of it and break on none.
 */
export async function seedHostileData(db: Database, now: number): Promise<void> {
  const values = Object.fromEntries(PROTOTYPE_METRICS.map((name, i) => [name, i + 1]));
  const recent: NewReading[] = [1, 2, 3].map((seq) => ({ bootId: 'b0b0b0b0', seq, streamId: `${now - 3_600_000 + seq * 60_000}-0`, measuredAt: now - 3_600_000 + seq * 60_000, values: { ...values, temperature_celsius: 20 + seq } }));
  await db.readings.storeReadings(HOSTILE_DEVICE, recent);
  // A device clock gone wild: a time past the last Date, stored as it came.
  await db.readings.storeReadings(HOSTILE_DEVICE, [{ bootId: 'b0b0b0b0', seq: 4, streamId: `${PAST_LAST_DATE}-0`, measuredAt: PAST_LAST_DATE, values: { temperature_celsius: 99 } }]);
  await db.rollups.refresh();
  await db.sql.transaction(async (sql) => {
    await sql.execute('UPDATE readings SET received_at = ? WHERE device_id = ? AND seq = 4', [PAST_LAST_DATE + 1, HOSTILE_DEVICE]);
    // Beyond what a BIGINT holds exactly (and in SQLite a REAL), newest of all by measured_at.
    await sql.execute('INSERT INTO readings (device_id, reading_key, boot_id, seq, stream_id, measured_at, received_at, values_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)', [
      HOSTILE_DEVICE,
      'huge',
      'b0b0b0b0',
      5,
      '1-0',
      db.kind === 'sqlite' ? 1e300 : '9223372036854775807',
      now,
      JSON.stringify({ temperature_celsius: 1 }),
    ]);
    await sql.execute('INSERT INTO readings (device_id, reading_key, boot_id, seq, stream_id, measured_at, received_at, values_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)', [
      HOSTILE_DEVICE,
      'not-json',
      'b0b0b0b0',
      6,
      '2-0',
      now - 1000,
      now,
      '{not json',
    ]);
    await sql.execute('UPDATE devices SET last_seen_at = ?, first_seen_at = ? WHERE id = ?', [PAST_LAST_DATE + 2, -9e15, HOSTILE_DEVICE]);
    // Both readings with a time past the last Date carry the clock-skew flag.
    await sql.execute('UPDATE readings SET clock_skew = 1 WHERE device_id = ? AND seq IN (4, 5)', [HOSTILE_DEVICE]);
  });
  await seedHostileOriginal(db, now);
}

async function seedHostileOriginal(db: Database, now: number): Promise<void> {
  const good = [3, 2, 1].map((minutes) => now - minutes * 60_000);
  const original = (measuredAt: number): NewReading => ({ bootId: null, seq: null, streamId: `${measuredAt}-0`, measuredAt, values: { humidity_percent: 40 } });
  await db.readings.storeReadings(HOSTILE_ORIGINAL, [...good, PAST_LAST_DATE - 1, -8e15].map(original), { protocol: 'original', receivedAt: now });
  await db.sql.transaction(async (sql) => {
    await sql.execute('UPDATE readings SET clock_skew = 1 WHERE device_id = ? AND measured_at = ?', [HOSTILE_ORIGINAL, PAST_LAST_DATE - 1]);
    // Unflagged garbage no Date can hold: the gap search must pass over it.
    await sql.execute('INSERT INTO readings (device_id, reading_key, boot_id, seq, stream_id, measured_at, received_at, values_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)', [
      HOSTILE_ORIGINAL,
      's:huge',
      null,
      null,
      '3-0',
      db.kind === 'sqlite' ? 1e300 : '9223372036854775807',
      now,
      JSON.stringify({ humidity_percent: 1 }),
    ]);
  });
}
