import type { Database } from '../db/index.ts';
import { cardinalitySql } from './cardinality-sql.ts';
import type { IngestStore } from './ingest-store.ts';

/**
 * The receiver's store operations over the database stores. They share the stores' types, so most
 * pass straight through.
 */
export function databaseIngestStore(db: Database): IngestStore {
  return {
    storeBatch: (deviceId, readings, meta) => db.readings.storeReadings(deviceId, readings, meta),
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
      const pending = await db.commands.findPendingForOriginal(deviceId, response.command);
      if (pending === undefined) return false;
      return db.commands.markAnswered(pending.id, response.ok, response.body, at);
    },
    expireCommands: (now) => db.commands.expireDue(now),
    async ping() {
      await db.sql.read((sql) => sql.rows('SELECT 1 AS ok'));
    },
  };
}
