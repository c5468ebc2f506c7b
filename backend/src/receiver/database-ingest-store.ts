import type { Database } from '../db/index.ts';
import type { IngestStore } from './ingest-store.ts';

/** The receiver's store operations over the database stores. */
export function databaseIngestStore(db: Database): IngestStore {
  return {
    async storeBatch(deviceId, protocol, readings, shutdowns, meta) {
      return db.readings.storeReadings(deviceId, readings, {
        protocol,
        ...(meta.deviceType === undefined ? {} : { deviceType: meta.deviceType }),
        ...(meta.appId === undefined ? {} : { appId: meta.appId }),
        ...(meta.appName === undefined ? {} : { appName: meta.appName }),
        shutdowns,
      });
    },
    async recordRejection(rejection) {
      await db.rejections.recordRejection({
        topic: rejection.topic,
        ...(rejection.deviceId === undefined ? {} : { deviceId: rejection.deviceId }),
        reason: rejection.reason,
        detail: rejection.detail,
        payload: rejection.payload,
      });
    },
    async recordStatus(deviceId, status, receivedAt) {
      await db.devices.recordStatus(deviceId, status, receivedAt);
    },
    async recordReported(deviceId, version, config, errors) {
      await db.configs.setReported(deviceId, version, config, errors ?? null);
    },
    async desired(deviceId) {
      const desired = await db.configs.getDesired(deviceId);
      return desired === undefined ? undefined : { version: desired.version, config: desired.config };
    },
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
