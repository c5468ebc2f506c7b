import { EntitySchema, type EntitySchemaColumnOptions } from 'typeorm';

/**
 * TypeORM entity schemas (EntitySchema: decorators are not erasable TypeScript). They describe
 * the tables the migrations create, for repository and query-builder use (the web admin); the
 * stores write with hand-written portable SQL. A test checks that these schemas and the
 * migrations agree on both dialects (TypeORM's schema builder finds nothing to change).
 *
 * Times are epoch milliseconds (BIGINT); JSON columns hold text the stores parse.
 */
export type DatabaseKind = 'mariadb' | 'sqlite';

export const ENTITY = {
  device: 'Device',
  reading: 'Reading',
  boot: 'Boot',
  command: 'Command',
  desiredConfig: 'DesiredConfig',
  reportedConfig: 'ReportedConfig',
  rejectedMessage: 'RejectedMessage',
} as const;

export interface DeviceEntity {
  id: string;
  protocol: string;
  deviceType: string | null;
  appId: string | null;
  appName: string | null;
  firstSeenAt: number;
  lastSeenAt: number;
  online: boolean | null;
  statusJson: string | null;
  statusAt: number | null;
  name: string | null;
  duplicatesAbsorbed: number;
  readingsStored: number;
}

export interface ReadingEntity {
  id: number;
  deviceId: string;
  readingKey: string;
  bootId: string | null;
  seq: number | null;
  streamId: string;
  measuredAt: number;
  receivedAt: number;
  valuesJson: string;
  /** 1: measured at a time implausible for when it arrived (see the reading-clock-skew migration). */
  clockSkew: number;
}

export interface BootEntity {
  deviceId: string;
  bootId: string;
  firstSeenAt: number;
  shutdownSeq: number | null;
  shutdownAt: number | null;
  /** Readings stored with a sequence number, and the lowest and highest of those numbers. */
  readings: number;
  minSeq: number | null;
  maxSeq: number | null;
}

export interface CommandEntity {
  id: string;
  deviceId: string;
  command: string;
  argsJson: string;
  state: string;
  createdAt: number;
  deliveredAt: number | null;
  expiresAt: number;
  answeredAt: number | null;
  ok: boolean | null;
  responseJson: string | null;
}

export interface DesiredConfigEntity {
  deviceId: string;
  version: number;
  configJson: string;
  updatedAt: number;
}

export interface ReportedConfigEntity {
  deviceId: string;
  version: number;
  configJson: string;
  errorsJson: string | null;
  reportedAt: number;
}

export interface RejectedMessageEntity {
  id: number;
  receivedAt: number;
  topic: string;
  deviceId: string | null;
  reason: string;
  detail: string;
  payloadExcerpt: string;
  payloadBytes: number;
}

const ms = (name: string, nullable = false): EntitySchemaColumnOptions => ({ name, type: 'bigint', nullable });
const str = (name: string, length: number, nullable = false): EntitySchemaColumnOptions => ({ name, type: 'varchar', length, nullable });
const text = (name: string, nullable = false): EntitySchemaColumnOptions => ({ name, type: 'text', nullable });
const int = (name: string, nullable = false): EntitySchemaColumnOptions => ({ name, type: 'int', nullable });
const bool = (name: string): EntitySchemaColumnOptions => ({ name, type: 'boolean', nullable: true });

/** The entity schemas for one dialect (the auto-increment id and long-text types differ). */
export function createEntitySchemas(kind: DatabaseKind): EntitySchema[] {
  const autoId: EntitySchemaColumnOptions = { name: 'id', type: kind === 'sqlite' ? 'integer' : 'bigint', primary: true, generated: 'increment' };
  const longText = kind === 'sqlite' ? 'text' : 'mediumtext';

  const device = new EntitySchema<DeviceEntity>({
    name: ENTITY.device,
    tableName: 'devices',
    columns: {
      id: { name: 'id', type: 'varchar', length: 64, primary: true },
      protocol: str('protocol', 16),
      deviceType: str('device_type', 100, true),
      appId: str('app_id', 100, true),
      appName: str('app_name', 200, true),
      firstSeenAt: ms('first_seen_at'),
      lastSeenAt: ms('last_seen_at'),
      online: bool('online'),
      statusJson: text('status_json', true),
      statusAt: ms('status_at', true),
      name: str('name', 100, true),
      duplicatesAbsorbed: { name: 'duplicates_absorbed', type: 'bigint', default: 0 },
      readingsStored: { name: 'readings_stored', type: 'bigint', default: 0 },
    },
  });

  const reading = new EntitySchema<ReadingEntity>({
    name: ENTITY.reading,
    tableName: 'readings',
    columns: {
      id: autoId,
      deviceId: str('device_id', 64),
      readingKey: str('reading_key', 80),
      bootId: str('boot_id', 16, true),
      seq: int('seq', true),
      streamId: str('stream_id', 41),
      measuredAt: ms('measured_at'),
      receivedAt: ms('received_at'),
      valuesJson: text('values_json'),
      clockSkew: { name: 'clock_skew', type: 'int', default: 0 },
    },
    uniques: [{ name: 'UQ_readings_device_key', columns: ['deviceId', 'readingKey'] }],
    indices: [
      { name: 'IDX_readings_device_measured', columns: ['deviceId', 'measuredAt'] },
      { name: 'IDX_readings_device_boot_seq', columns: ['deviceId', 'bootId', 'seq'] },
    ],
  });

  const boot = new EntitySchema<BootEntity>({
    name: ENTITY.boot,
    tableName: 'boots',
    columns: {
      deviceId: { name: 'device_id', type: 'varchar', length: 64, primary: true },
      bootId: { name: 'boot_id', type: 'varchar', length: 16, primary: true },
      firstSeenAt: ms('first_seen_at'),
      shutdownSeq: int('shutdown_seq', true),
      shutdownAt: ms('shutdown_at', true),
      readings: { name: 'readings', type: 'int', default: 0 },
      minSeq: int('min_seq', true),
      maxSeq: int('max_seq', true),
    },
  });

  const command = new EntitySchema<CommandEntity>({
    name: ENTITY.command,
    tableName: 'commands',
    columns: {
      id: { name: 'id', type: 'varchar', length: 64, primary: true },
      deviceId: str('device_id', 64),
      command: str('command', 50),
      argsJson: text('args_json'),
      state: str('state', 16),
      createdAt: ms('created_at'),
      deliveredAt: ms('delivered_at', true),
      expiresAt: ms('expires_at'),
      answeredAt: ms('answered_at', true),
      ok: bool('ok'),
      responseJson: { name: 'response_json', type: longText, nullable: true },
    },
    indices: [{ name: 'IDX_commands_device_created', columns: ['deviceId', 'createdAt'] }],
  });

  const desiredConfig = new EntitySchema<DesiredConfigEntity>({
    name: ENTITY.desiredConfig,
    tableName: 'desired_configs',
    columns: {
      deviceId: { name: 'device_id', type: 'varchar', length: 64, primary: true },
      version: int('version'),
      configJson: text('config_json'),
      updatedAt: ms('updated_at'),
    },
  });

  const reportedConfig = new EntitySchema<ReportedConfigEntity>({
    name: ENTITY.reportedConfig,
    tableName: 'reported_configs',
    columns: {
      deviceId: { name: 'device_id', type: 'varchar', length: 64, primary: true },
      version: int('version'),
      configJson: text('config_json'),
      errorsJson: text('errors_json', true),
      reportedAt: ms('reported_at'),
    },
  });

  const rejectedMessage = new EntitySchema<RejectedMessageEntity>({
    name: ENTITY.rejectedMessage,
    tableName: 'rejected_messages',
    columns: {
      id: autoId,
      receivedAt: ms('received_at'),
      topic: str('topic', 255),
      deviceId: str('device_id', 64, true),
      reason: str('reason', 40),
      detail: str('detail', 1000),
      payloadExcerpt: text('payload_excerpt'),
      payloadBytes: int('payload_bytes'),
    },
    indices: [{ name: 'IDX_rejected_received', columns: ['receivedAt'] }],
  });

  return [device, reading, boot, command, desiredConfig, reportedConfig, rejectedMessage, ...broadcastEntitySchemas(kind)] as EntitySchema[];
}

export const BROADCAST_ENTITY = { broadcast: 'Broadcast', broadcastAnswer: 'BroadcastAnswer' } as const;

/** A command to every device on the broadcast topic (migration 1768003200000). */
export interface BroadcastEntity {
  id: string;
  command: string;
  argsJson: string;
  state: string;
  createdAt: number;
  sentAt: number | null;
  expiresAt: number;
  createdBy: string | null;
  errorJson: string | null;
}

/** One device's answer to a broadcast. */
export interface BroadcastAnswerEntity {
  broadcastId: string;
  deviceId: string;
  answeredAt: number;
  ok: boolean | null;
  responseJson: string | null;
}

function broadcastEntitySchemas(kind: DatabaseKind): EntitySchema[] {
  const broadcast = new EntitySchema<BroadcastEntity>({
    name: BROADCAST_ENTITY.broadcast,
    tableName: 'broadcasts',
    columns: {
      id: { name: 'id', type: 'varchar', length: 64, primary: true },
      command: str('command', 50),
      argsJson: text('args_json'),
      state: str('state', 16),
      createdAt: ms('created_at'),
      sentAt: ms('sent_at', true),
      expiresAt: ms('expires_at'),
      createdBy: str('created_by', 100, true),
      errorJson: text('error_json', true),
    },
    indices: [{ name: 'IDX_broadcasts_created', columns: ['createdAt'] }],
  });
  const broadcastAnswer = new EntitySchema<BroadcastAnswerEntity>({
    name: BROADCAST_ENTITY.broadcastAnswer,
    tableName: 'broadcast_answers',
    columns: {
      broadcastId: { name: 'broadcast_id', type: 'varchar', length: 64, primary: true },
      deviceId: { name: 'device_id', type: 'varchar', length: 64, primary: true },
      answeredAt: ms('answered_at'),
      ok: bool('ok'),
      responseJson: { name: 'response_json', type: kind === 'sqlite' ? 'text' : 'mediumtext', nullable: true },
    },
  });
  return [broadcast, broadcastAnswer] as EntitySchema[];
}
