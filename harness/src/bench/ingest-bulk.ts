import { Readable } from 'node:stream';
import mysql from 'mysql2/promise';
import { READING_COLUMNS } from './ingest-load.ts';

/**
 * MariaDB's ceiling for the readings of a load: the same rows written straight into a table by the
 * fastest bulk paths there are, with the statements (or files) built before the clock starts, so
 * only the database and the wire are measured.
 */
export interface BulkMethod {
  name: string;
  kind: 'insert' | 'load-data';
  /** Rows per INSERT statement, or per LOAD DATA file. */
  rows: number;
  /** Connections writing at once, each taking the next statement. */
  writers: number;
}

export const BULK_METHODS: readonly BulkMethod[] = [
  { name: 'multi-row INSERT ×1000, 1 writer', kind: 'insert', rows: 1000, writers: 1 },
  { name: 'multi-row INSERT ×1000, 2 writers', kind: 'insert', rows: 1000, writers: 2 },
  { name: 'multi-row INSERT ×1000, 4 writers', kind: 'insert', rows: 1000, writers: 4 },
  { name: 'multi-row INSERT ×5000, 2 writers', kind: 'insert', rows: 5000, writers: 2 },
  { name: 'LOAD DATA LOCAL INFILE ×50000, 1 writer', kind: 'load-data', rows: 50_000, writers: 1 },
  { name: 'LOAD DATA LOCAL INFILE ×20000, 2 writers', kind: 'load-data', rows: 20_000, writers: 2 },
];

export interface Target {
  host: string;
  port: number;
  database: string;
}

/** Rows in the shape of some table: its column list and values. */
export interface RowSet {
  columns: readonly string[];
  rows: readonly (readonly unknown[])[];
}

export function connectTo(target: Target): Promise<mysql.Connection> {
  return mysql.createConnection({
    host: target.host,
    port: target.port,
    user: 'root',
    database: target.database,
    // The "file" of LOAD DATA LOCAL is a buffer built beforehand, named by its index.
    infileStreamFactory: (path: string) => Readable.from([files.get(path) ?? Buffer.alloc(0)]),
  });
}

const files = new Map<string, Buffer>();

/** Loads `set` into `table` (empty beforehand) by `method`; rows per second. */
export async function bulkLoad(target: Target, table: string, set: RowSet, method: BulkMethod): Promise<number> {
  const work = method.kind === 'insert' ? insertStatements(table, set, method.rows) : loadDataStatements(table, set, method.rows);
  const connections = await Promise.all(Array.from({ length: method.writers }, () => connectTo(target)));
  try {
    let next = 0;
    const started = performance.now();
    await Promise.all(
      connections.map(async (connection) => {
        for (let i = next++; i < work.length; i = next++) await connection.query(work[i]!);
      }),
    );
    return set.rows.length / ((performance.now() - started) / 1000);
  } finally {
    files.clear();
    await Promise.all(connections.map((c) => c.end()));
  }
}

function insertStatements(table: string, set: RowSet, rows: number): string[] {
  const statements: string[] = [];
  for (let start = 0; start < set.rows.length; start += rows) {
    statements.push(mysql.format(`INSERT INTO ${table} (${set.columns.join(', ')}) VALUES ?`, [set.rows.slice(start, start + rows)] as Parameters<typeof mysql.format>[1]));
  }
  return statements;
}

function loadDataStatements(table: string, set: RowSet, rows: number): string[] {
  const statements: string[] = [];
  for (let start = 0; start < set.rows.length; start += rows) {
    const name = `chunk-${start}`;
    files.set(name, Buffer.from(set.rows.slice(start, start + rows).map(tsvLine).join('')));
    statements.push(
      `LOAD DATA LOCAL INFILE '${name}' INTO TABLE ${table} CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (${set.columns.join(', ')})`,
    );
  }
  return statements;
}

function tsvLine(row: readonly unknown[]): string {
  return `${row.map((v) => (v === null ? '\\N' : String(v).replace(/[\\\t\n]/g, (c) => (c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\\\')))).join('\t')}\n`;
}

/** The readings table as the migrations create it, and the alternative layouts issue 15 asks about. */
export interface Layout {
  name: string;
  ddl: (table: string) => string;
  /** The load's rows (READING_COLUMNS) in this table's columns; several rows per reading possible. */
  rows: (readings: readonly (readonly unknown[])[]) => RowSet;
  /** Table rows per reading. */
  rowsPerReading: number;
}

const COMMON = `device_id VARCHAR(64) NOT NULL, reading_key VARCHAR(80) NOT NULL, boot_id VARCHAR(16) NULL, seq INT NULL,
  stream_id VARCHAR(41) NOT NULL, measured_at BIGINT NOT NULL, received_at BIGINT NOT NULL`;
const TAIL = 'ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci';
const asIs = (readings: readonly (readonly unknown[])[]): RowSet => ({ columns: READING_COLUMNS, rows: readings });
const METRICS = ['temperature_celsius', 'humidity_percent', 'pressure_hpa'] as const;

export const LAYOUTS: readonly Layout[] = [
  { name: 'as migrated: id PK, unique (device, key), (device, measured_at), (device, boot, seq), values JSON', ddl: (t) => `CREATE TABLE ${t} LIKE iot.readings`, rows: asIs, rowsPerReading: 1 },
  {
    name: 'PK (device, key), (device, measured_at), (device, boot, seq), values JSON',
    ddl: (t) => `CREATE TABLE ${t} (${COMMON}, values_json TEXT NOT NULL, clock_skew TINYINT(1) NOT NULL DEFAULT 0,
      PRIMARY KEY (device_id, reading_key), KEY (device_id, measured_at), KEY (device_id, boot_id, seq)) ${TAIL}`,
    rows: asIs,
    rowsPerReading: 1,
  },
  {
    name: 'PK (device, key), (device, measured_at), values JSON',
    ddl: (t) => `CREATE TABLE ${t} (${COMMON}, values_json TEXT NOT NULL, clock_skew TINYINT(1) NOT NULL DEFAULT 0,
      PRIMARY KEY (device_id, reading_key), KEY (device_id, measured_at)) ${TAIL}`,
    rows: asIs,
    rowsPerReading: 1,
  },
  {
    name: 'PK (device, key), no secondary index, values JSON',
    ddl: (t) => `CREATE TABLE ${t} (${COMMON}, values_json TEXT NOT NULL, clock_skew TINYINT(1) NOT NULL DEFAULT 0, PRIMARY KEY (device_id, reading_key)) ${TAIL}`,
    rows: asIs,
    rowsPerReading: 1,
  },
  {
    name: 'PK (device, key), (device, measured_at), values as typed DOUBLE columns',
    ddl: (t) => `CREATE TABLE ${t} (${COMMON}, ${METRICS.map((m) => `${m} DOUBLE NULL`).join(', ')}, clock_skew TINYINT(1) NOT NULL DEFAULT 0,
      PRIMARY KEY (device_id, reading_key), KEY (device_id, measured_at)) ${TAIL}`,
    rows: (readings) => ({
      columns: [...READING_COLUMNS.filter((c) => c !== 'values_json'), ...METRICS],
      rows: readings.map((r) => {
        const values = JSON.parse(String(r[7])) as Record<string, number>;
        return [...r.slice(0, 7), r[8], ...METRICS.map((m) => values[m] ?? null)];
      }),
    }),
    rowsPerReading: 1,
  },
  {
    name: 'one row per value: PK (device, key, metric), (device, metric, measured_at), DOUBLE',
    ddl: (t) => `CREATE TABLE ${t} (device_id VARCHAR(64) NOT NULL, reading_key VARCHAR(80) NOT NULL, metric VARCHAR(64) NOT NULL, measured_at BIGINT NOT NULL, value DOUBLE NOT NULL,
      PRIMARY KEY (device_id, reading_key, metric), KEY (device_id, metric, measured_at)) ${TAIL}`,
    rows: (readings) => ({
      columns: ['device_id', 'reading_key', 'metric', 'measured_at', 'value'],
      rows: readings.flatMap((r) => Object.entries(JSON.parse(String(r[7])) as Record<string, number>).map(([metric, value]) => [r[0], r[1], metric, r[5], value])),
    }),
    rowsPerReading: METRICS.length,
  },
];
