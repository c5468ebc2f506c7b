import { answerMatches, matchesResentReadings, originalOutcome } from '../control/answer-matching.ts';
import type { Database, NewReading, StoreResult } from '../db/index.ts';
import { cardinalitySql } from './cardinality-sql.ts';
import type { IngestStore } from './ingest-store.ts';

/**
 * The receiver's store operations over the database stores. They share the stores' types, so most
 * pass straight through.
 */
export function databaseIngestStore(db: Database): IngestStore {
  return {
    async storeBatch(deviceId, readings, meta) {
      const result = await db.readings.storeReadings(deviceId, readings, meta);
      await answerSendMeasurements(db, deviceId, readings, result, meta.receivedAt);
      return result;
    },
    async storeBatches(batches) {
      const results = await db.readings.storeGroup(batches);
      for (const [i, batch] of batches.entries()) await answerSendMeasurements(db, batch.deviceId, batch.readings, results[i]!, batch.meta.receivedAt);
      return results;
    },
    async recordRejections(rejections) {
      await db.rejections.recordRejections(rejections);
    },
    pruneRejections: (options) => db.rejections.prune(options),
    ...cardinalitySql(db.sql),
    async recordStatus(deviceId, status, receivedAt) {
      await db.devices.recordStatus(deviceId, status, receivedAt);
    },
    async recordReported(deviceId, version, config, errors) {
      await db.configs.setReported(deviceId, version, config, errors ?? null);
    },
    desired: (deviceId) => db.configs.getDesired(deviceId),
    async recordResponse(deviceId, response, at) {
      if (response.id !== undefined) {
        const command = await db.commands.get(response.id);
        // An id from another device is not an answer to our command.
        if (command === undefined || command.deviceId !== deviceId) return false;
        return db.commands.markAnswered(response.id, response.ok, response.body, at);
      }
      return recordAnswerWithoutId(db, deviceId, response.command, response.ok, response.body, at);
    },
    expireCommands: (now) => db.commands.expireDue(now),
    async ping() {
      await db.sql.read((sql) => sql.rows('SELECT 1 AS ok'));
    },
  };
}

/**
 * An answer without an id: the original's, or a v1 device's answer to a command sent in the
 * original format (a broadcast). It goes to the oldest open command or broadcast whose fields it
 * echoes (docs/original-devices.md §3). A v1 answer says whether it worked; an original answer
 * is judged by what it is (originalOutcome): a reboot answer tells nothing, so `null`.
 */
async function recordAnswerWithoutId(db: Database, deviceId: string, name: string, said: boolean | null, body: unknown, at: number): Promise<boolean> {
  const echoed = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  const command = await db.commands.findPendingForOriginal(deviceId, name, (c) => answerMatches(c.command, c.args, echoed));
  const broadcast = (await db.commands.broadcasts.openFor(deviceId, name, at)).find((b) => answerMatches(b.command, b.args, echoed));
  const ok = said ?? originalOutcome(name, echoed);
  // The device answers in the order it was sent commands, so the older one is answered first.
  if (broadcast !== undefined && (command === undefined || broadcast.createdAt < command.createdAt)) {
    return db.commands.broadcasts.recordAnswer(broadcast.id, deviceId, ok, body, at);
  }
  if (command === undefined) return false;
  return db.commands.markAnswered(command.id, ok, body, at);
}

/**
 * The original answers send_measurements by publishing the range on `values`, with no command id
 * (docs/original-system.md §12). A message of original readings (stream ids only, no boot id:
 * our devices' re-sends carry their identity and answer with the id) that re-sends readings
 * already stored, all inside the range of an unanswered send_measurements of that device, is
 * taken as its answer: the oldest such command, with the message's reading count. A heuristic,
 * stated in docs/original-devices.md §3.
 */
async function answerSendMeasurements(db: Database, deviceId: string, readings: readonly NewReading[], result: StoreResult, at: number | undefined): Promise<void> {
  if (result.duplicates === 0 || readings.length === 0 || readings.some((r) => r.bootId !== null)) return;
  const streamIds = readings.map((r) => r.streamId);
  const command = await db.commands.findPendingForOriginal(deviceId, 'send_measurements', (c) => matchesResentReadings(c.args, streamIds));
  if (command !== undefined) await db.commands.markAnswered(command.id, true, { count: readings.length }, at);
}
