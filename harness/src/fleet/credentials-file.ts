import { readFileSync } from 'node:fs';
import { isValidDeviceId } from '@iot/common/protocol';
import type { FleetDevice } from './fleet.ts';

/**
 * The devices' MQTT logins for a backend the fleet did not start, from a JSON file:
 * `{"devices":[{"id":"dev-1","password":"...","username":"dev-1"}]}` (username defaults to the id).
 * The first `count` devices are used. Throws with a message naming the problem.
 */
export function readFleetCredentials(path: string, count: number): FleetDevice[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`--credentials ${path}: ${(error as Error).message}`);
  }
  const list = (parsed as { devices?: unknown }).devices;
  if (!Array.isArray(list)) throw new Error(`--credentials ${path}: expected {"devices":[{"id":...,"password":...}]}`);
  if (list.length < count) throw new Error(`--credentials ${path} has ${list.length} devices, --devices asks for ${count}`);
  const seen = new Set<string>();
  return list.slice(0, count).map((entry: unknown, i) => {
    const { id, password, username } = (entry ?? {}) as Record<string, unknown>;
    if (typeof id !== 'string' || !isValidDeviceId(id)) throw new Error(`--credentials ${path}: devices[${i}].id must be a device id (1–64 of A–Z a–z 0–9 _ -)`);
    if (typeof password !== 'string' || password === '') throw new Error(`--credentials ${path}: devices[${i}].password must be a non-empty string`);
    if (username !== undefined && typeof username !== 'string') throw new Error(`--credentials ${path}: devices[${i}].username must be a string`);
    if (seen.has(id)) throw new Error(`--credentials ${path}: device "${id}" is listed twice`);
    seen.add(id);
    return { id, password, username: username ?? id };
  });
}
