import { REJECTION_REASONS, type RejectionReason } from '@iot/common/protocol';
import { BackendStack } from '@iot/harness';
import { eventually } from '@iot/harness/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RejectionRecord } from '../../src/db/index.ts';
import { FakeDevice } from './fake-device.ts';
import { FUZZ_CLASSES, type FuzzClass } from './fuzz-classes.ts';

const FUZZ_DEVICES = 8;
const fuzzDevice = (n: number) => `fz-${n}`;
type Tally = Map<RejectionReason, number>;

/** Adds what one row stands for: its own reason, or for a rate limit's summary the reasons it lists. */
function addRow(tally: Tally, row: RejectionRecord): void {
  if (row.reason !== 'rate_limited') {
    tally.set(row.reason, (tally.get(row.reason) ?? 0) + row.count);
    return;
  }
  const listed = /By reason: ([^.]*)\./.exec(row.detail)?.[1] ?? '';
  for (const part of listed.split(', ')) {
    const [reason, count] = part.split(' ') as [RejectionReason, string];
    if (REJECTION_REASONS.includes(reason)) tally.set(reason, (tally.get(reason) ?? 0) + Number(count));
  }
}

const sorted = (tally: Tally) => Object.fromEntries([...tally].filter(([, n]) => n > 0).sort(([a], [b]) => a.localeCompare(b)));

/**
 * Security review, item 5: a fuzz run through a real broker into a real receiver process on
 * SQLite. Over 10 000 malformed messages of the classes in fuzz-classes.ts go out from 8 devices
 * while a v1 device and an original-format device keep sending valid readings. Every malformed
 * message must be rejected and recorded (per device and reason the rows, with their counts and
 * the rate limit's summaries, add up to exactly what was sent), nothing malformed stored, no valid
 * reading lost, and the receiver must neither crash nor take bad data for a database outage.
 */
describe('receiver fuzz: malformed traffic is rejected and recorded, valid traffic goes on', () => {
  const ids = Array.from({ length: FUZZ_DEVICES }, (_, n) => fuzzDevice(n));
  const stack = new BackendStack({ deviceIds: [...ids, 'fz-valid', 'fz-original'], broker: 'aedes', database: 'sqlite' });

  beforeAll(async () => {
    await stack.start();
    // Below the broker's 256 KiB, so an oversize message reaches the receiver and is recorded.
    await stack.startReceiver({ env: { RECEIVER_MAX_PAYLOAD_BYTES: String(128 * 1024), RECEIVER_REJECTION_SWEEP_SECONDS: '1' } });
  }, 60_000);
  afterAll(async () => {
    await stack.dispose();
  });

  it('loses no valid reading, stores nothing malformed and records every rejection', async () => {
    const db = await stack.database();
    const receiver = stack.receivers[0]!;
    const devices = await Promise.all(ids.map((id) => FakeDevice.connect(stack.brokerPort, id, stack.login(id))));
    const valid = await FakeDevice.connect(stack.brokerPort, 'fz-valid', stack.login('fz-valid'), 'a0a0a0a0a0a0a0a0');
    const original = await FakeDevice.connect(stack.brokerPort, 'fz-original', stack.login('fz-original'));
    try {
      // What each fuzz device must end up with: reason → parts, and the acks of its all-bad batches.
      const expected = ids.map((): Tally => new Map());
      const expectedAcks = ids.map(() => ({ batches: 0, rejected: 0 }));
      const plan = ids.map((): { cls: FuzzClass; n: number }[] => []);
      FUZZ_CLASSES.forEach((cls, c) => {
        const d = c % FUZZ_DEVICES;
        for (let n = 0; n < cls.messages; n++) plan[d]!.push({ cls, n });
        for (const [reason, parts] of Object.entries(cls.expected) as [RejectionReason, number][]) expected[d]!.set(reason, (expected[d]!.get(reason) ?? 0) + parts * cls.messages);
        if (cls.acked) {
          expectedAcks[d]!.batches += cls.messages;
          expectedAcks[d]!.rejected += cls.messages * Object.values(cls.expected).reduce((a, b) => a + b, 0);
        }
      });
      const sent = plan.reduce((sum, messages) => sum + messages.length, 0);
      const expectedParts = expected.reduce((sum, t) => sum + [...t.values()].reduce((a, b) => a + b, 0), 0);

      // Valid traffic all along: v1 batches delivered until acknowledged, and original readings.
      let fuzzing = true;
      const validSent: string[] = [];
      const originalSent: string[] = [];
      const validLoop = (async () => {
        for (let b = 0; fuzzing || b < 3; b++) {
          const batch = valid.batch(valid.entries(20), `valid-${b}`);
          await valid.deliver(batch, { resendMs: 2000, timeoutMs: 60_000 });
          validSent.push(...batch.entries.map((e) => `${e.boot}:${e.seq}`));
        }
      })();
      const originalLoop = (async () => {
        for (let k = 0; fuzzing || k < 3; k++) {
          const id = `${1_650_000_000_000 + k}-0`;
          await original.publish('values', [{ _id: id, _device_uuid: 'fz-original', temperature_celsius: String(20 + (k % 10)) }]);
          originalSent.push(`s:${id}`);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      })();

      // Each device publishes its messages in its own order (its classes interleaved), all devices at once.
      await Promise.all(
        devices.map(async (device, d) => {
          const messages = plan[d]!;
          for (let k = 0; k < messages.length; k++) {
            const { cls } = messages[(k * 7919) % messages.length]!;
            await device.publish(cls.channel, cls.make(device.id, k));
          }
        }),
      );
      fuzzing = false;
      await Promise.all([validLoop, originalLoop]);

      const recorded = await eventually(
        async () => {
          const tallies = ids.map((): Tally => new Map());
          for (let offset = 0; ; offset += 1000) {
            const page = await db.rejections.listRejections(1000, offset);
            for (const row of page) {
              const d = ids.indexOf(row.deviceId ?? '');
              if (d !== -1) addRow(tallies[d]!, row);
            }
            if (page.length < 1000) break;
          }
          return tallies.every((t, d) => JSON.stringify(sorted(t)) === JSON.stringify(sorted(expected[d]!))) ? tallies : undefined;
        },
        60_000,
        'every malformed message to be recorded',
      ).catch(async (error: Error) => {
        const rows = await db.rejections.listRejections(1000);
        const tallies = ids.map((): Tally => new Map());
        for (const row of rows) if (ids.includes(row.deviceId ?? '')) addRow(tallies[ids.indexOf(row.deviceId!)]!, row);
        const shown = ids.map((id, d) => `${id}: expected ${JSON.stringify(sorted(expected[d]!))}, recorded (newest 1000 rows) ${JSON.stringify(sorted(tallies[d]!))}`);
        throw new Error(`${error.message}\n${shown.join('\n')}`);
      });
      await eventually(() => devices.every((device, d) => device.acks.length >= expectedAcks[d]!.batches), 30_000, 'the acks of the all-bad batches');

      const storedWrongly = (await Promise.all(ids.map((id) => db.readings.countReadings(id)))).reduce((a, b) => a + b, 0);
      const deviceTypes = (await Promise.all(ids.map((id) => db.devices.getDevice(id)))).map((d) => d?.deviceType ?? null);
      const validStored = new Set(await db.readings.readingKeys('fz-valid'));
      await eventually(async () => (await db.readings.countReadings('fz-original')) >= originalSent.length, 20_000, 'the original readings');
      const originalStored = new Set(await db.readings.readingKeys('fz-original'));
      const validLost = validSent.filter((k) => !validStored.has(k)).length + originalSent.filter((k) => !originalStored.has(k)).length;
      const events = receiver.logs();
      const crashes = receiver.running ? 0 : 1;
      const rejectedParts = recorded.reduce((sum, t) => sum + [...t.values()].reduce((a, b) => a + b, 0), 0);
      const rows = await db.rejections.countRejections();

      process.stdout.write(
        `${[
          'receiver fuzz figures',
          `  classes                 ${FUZZ_CLASSES.length}`,
          `  malformed messages sent ${sent}`,
          `  rejected and recorded   ${rejectedParts} of ${expectedParts} parts expected (whole messages, or their bad entries) in ${rows} rows`,
          `  stored wrongly          ${storedWrongly}`,
          `  receiver crashes        ${crashes}`,
          `  valid readings sent     ${validSent.length + originalSent.length} (v1 ${validSent.length}, original ${originalSent.length})`,
          `  valid readings lost     ${validLost}`,
        ].join('\n')}\n`,
      );

      expect(storedWrongly).toBe(0);
      expect(deviceTypes.every((t) => t === null)).toBe(true);
      expect(validLost).toBe(0);
      expect(crashes).toBe(0);
      expect(events.filter((r) => r.event === 'database_down' || r.event === 'receiver_bug' || r.level === 'error' || r.level === 'fatal')).toEqual([]);
      devices.forEach((device, d) => {
        expect(device.acks.length).toBe(expectedAcks[d]!.batches);
        expect(device.acks.reduce((sum, a) => sum + a.rejected, 0)).toBe(expectedAcks[d]!.rejected);
        expect(device.acks.every((a) => a.stored === 0 && a.duplicates === 0)).toBe(true);
      });
    } finally {
      for (const device of [...devices, valid, original]) await device.close();
    }
  }, 180_000);
});
