import { systemClock } from '@iot/common/clock';
import { silentLogger } from '@iot/common/log';
import { TopicScheme } from '@iot/common/protocol';
import { BackendStack, type BrokerKind, type WebAdminInfo } from '@iot/harness';
import { OriginalSoftware, type StreamEntry } from '@iot/harness/original';
import mqtt, { type MqttClient } from 'mqtt';
import { DeviceControl } from '../../src/control/device-control.ts';
import type { Database } from '../../src/db/index.ts';

/**
 * What the compatibility tests share (docs/original-devices.md §5): the original software, found
 * or the reason it is not, and a backend (broker, receiver, SQLite, web admin) with a
 * DeviceControl and a logged-in web admin API client.
 */
export const lookup = OriginalSoftware.locate();
export const skipReason = lookup.available ? undefined : lookup.reason;
/** Appended to the suite's title, so a skipped run says why in the test report too. */
export const skipNote = skipReason === undefined ? '' : ` (skipped: ${skipReason})`;
if (skipReason !== undefined) process.stderr.write(`original-software compatibility tests skipped: ${skipReason}\n`);

export interface CompatBackend {
  stack: BackendStack;
  db: Database;
  control: DeviceControl;
  api: WebAdminApi;
  /** Publishes as the operator (QoS 1), e.g. a raw command in the original format. */
  publish(topic: string, payload: string): Promise<unknown>;
  dispose(): Promise<void>;
}

export async function startCompatBackend(deviceIds: readonly string[], options: { broker?: BrokerKind; webAdmin?: boolean } = {}): Promise<CompatBackend> {
  const stack = await new BackendStack({ deviceIds, broker: options.broker ?? 'aedes', database: 'sqlite' }).start();
  const clients: MqttClient[] = [];
  try {
    await stack.startReceiver();
    const db = await stack.database();
    const operator = await mqtt.connectAsync({ host: '127.0.0.1', port: stack.brokerPort, ...stack.login('operator'), clientId: 'operator-compat', protocolVersion: 4 });
    clients.push(operator);
    const control = new DeviceControl({ db, mqtt: operator, topics: new TopicScheme(), clock: systemClock, logger: silentLogger() });
    const api = options.webAdmin === false ? undefined : await WebAdminApi.login(await stack.startWebAdmin());
    return {
      stack,
      db,
      control,
      publish: (topic, payload) => operator.publishAsync(topic, payload, { qos: 1 }),
      get api(): WebAdminApi {
        if (api === undefined) throw new Error('this backend was started without a web admin');
        return api;
      },
      dispose: async () => {
        await Promise.all(clients.map((c) => c.endAsync(true)));
        await stack.dispose();
      },
    };
  } catch (error) {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await stack.dispose();
    throw error;
  }
}

/** The web admin's JSON API, logged in as its first admin. */
export class WebAdminApi {
  private readonly base: string;
  private readonly cookie: string;

  private constructor(base: string, cookie: string) {
    this.base = base;
    this.cookie = cookie;
  }

  static async login(web: WebAdminInfo): Promise<WebAdminApi> {
    const response = await fetch(`${web.url}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(web.admin),
    });
    if (!response.ok) throw new Error(`web admin login failed: ${response.status} ${await response.text()}`);
    const cookie = response.headers.get('set-cookie')?.split(';')[0];
    if (cookie === undefined) throw new Error('web admin login set no cookie');
    return new WebAdminApi(web.url, cookie);
  }

  async get(path: string): Promise<unknown> {
    const response = await fetch(`${this.base}/api${path}`, { headers: { cookie: this.cookie } });
    if (!response.ok) throw new Error(`GET /api${path}: ${response.status} ${await response.text()}`);
    return response.json();
  }
}

/** Every stored reading of a device, keyed by its stream id (original readings have no boot or seq). */
export async function storedByStreamId(db: Database, deviceId: string): Promise<Map<string, { values: Record<string, unknown>; count: number }>> {
  const stored = new Map<string, { values: Record<string, unknown>; count: number }>();
  for (let afterId = 0; ; ) {
    const page = await db.readings.listReadings(deviceId, { afterId, limit: 5000 });
    if (page.length === 0) return stored;
    for (const row of page) {
      const seen = stored.get(row.streamId);
      if (seen === undefined) stored.set(row.streamId, { values: row.values, count: 1 });
      else seen.count++;
    }
    afterId = page.at(-1)!.id;
  }
}

/**
 * The delivery check for original devices: what the stream holds (what was measured) against
 * what the database holds. Values compared as the original sends them, strings, against what
 * was stored (a number stored for a numeric string).
 */
export function compareDelivery(
  measured: readonly StreamEntry[],
  stored: ReadonlyMap<string, { values: Record<string, unknown>; count: number }>,
): { measured: number; lost: string[]; duplicated: string[]; corrupted: string[]; unexpected: string[] } {
  const lost: string[] = [];
  const duplicated: string[] = [];
  const corrupted: string[] = [];
  for (const entry of measured) {
    const row = stored.get(entry.id);
    if (row === undefined) {
      lost.push(entry.id);
      continue;
    }
    if (row.count > 1) duplicated.push(entry.id);
    const same = Object.keys(entry.fields).length === Object.keys(row.values).length && Object.entries(entry.fields).every(([name, text]) => sameValue(text, row.values[name]));
    if (!same) corrupted.push(entry.id);
  }
  const ids = new Set(measured.map((e) => e.id));
  const unexpected = [...stored.keys()].filter((id) => !ids.has(id));
  return { measured: measured.length, lost, duplicated, corrupted, unexpected };
}

/** A value as sent (a string) and as stored: the same text, or the number a numeric string denotes. */
function sameValue(sent: string, stored: unknown): boolean {
  return typeof stored === 'number' ? Number(sent) === stored : stored === sent;
}

/** The JSON text of `value` holds `"<state>"` as a value of some field: shapes may still change, the states do not. */
export function mentionsState(value: unknown, states: readonly string[]): string | undefined {
  // Nothing yet (the fleet lists a new device within a live-update round): no state.
  if (value === undefined) return undefined;
  const text = JSON.stringify(value);
  return states.find((state) => text.includes(`:"${state}"`));
}

/** The device's entry on GET /api/fleet. */
export async function fleetEntry(api: WebAdminApi, deviceId: string): Promise<unknown> {
  // Paged: searched by id, so the device is found whatever page it would land on.
  const fleet = (await api.get(`/fleet?q=${encodeURIComponent(deviceId)}`)) as { devices: Array<{ device: { id: string } }> };
  return fleet.devices.find((entry) => entry.device.id === deviceId);
}

/** The device's entry on GET /api/integrity. */
export async function integrityEntry(api: WebAdminApi, deviceId: string): Promise<unknown> {
  const report = (await api.get(`/integrity?q=${encodeURIComponent(deviceId)}`)) as { devices: Array<{ id: string }> };
  return report.devices.find((entry) => entry.id === deviceId);
}

/** Whether `value` holds the time `ms` somewhere, as epoch milliseconds or an ISO text. */
export function mentionsTime(value: unknown, ms: number): boolean {
  const text = JSON.stringify(value);
  return text.includes(String(ms)) || text.includes(new Date(ms).toISOString());
}

/** What the integrity API says about a device's suspected gaps: its /api/integrity entry and, where served, /api/devices/:id/suspected-gaps. */
export async function suspectedGapsOf(api: WebAdminApi, deviceId: string): Promise<{ integrity: unknown; suspectedGaps: unknown }> {
  const suspectedGaps = await api.get(`/devices/${encodeURIComponent(deviceId)}/suspected-gaps`).catch((error: Error) => ({ unavailable: error.message }));
  return { integrity: await integrityEntry(api, deviceId), suspectedGaps };
}

/** The milliseconds part of a stream id: the original's measured time (docs/original-system.md §11). */
export function streamIdMs(id: string): number {
  return Number(id.split('-')[0]);
}
