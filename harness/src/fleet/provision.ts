import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { type CredentialFile, hashPassword, loadCredentialFile, saveCredentialFile } from '@iot/backend/broker';
import { randomBytes } from 'node:crypto';
import { fleetDeviceIds } from './fleet-run.ts';

/**
 * Device accounts for a fleet against a running backend (docs/fleet-simulator.md):
 *
 *   node harness/src/fleet/provision.ts --devices N --broker-credentials FILE --out FILE [--prefix fleet]
 *
 * adds N device users (username = device id, role device) with random passwords to the broker's
 * credential file (created when missing; restart the broker to load it), and writes the plain
 * logins to --out for `npm run fleet -- --credentials`, readable by the owner only.
 */
const USAGE = 'usage: node harness/src/fleet/provision.ts --devices N --broker-credentials FILE --out FILE [--prefix fleet]';

function fail(message: string): never {
  process.stderr.write(`provision: ${message}\n${USAGE}\n`);
  process.exit(2);
}

let values: { devices?: string; 'broker-credentials'?: string; out?: string; prefix?: string };
try {
  values = parseArgs({
    options: { devices: { type: 'string' }, 'broker-credentials': { type: 'string' }, out: { type: 'string' }, prefix: { type: 'string' } },
    strict: true,
  }).values;
} catch (error) {
  fail((error as Error).message);
}
const count = Number(values.devices);
if (values.devices === undefined || !/^\d+$/.test(values.devices) || count < 1 || count > 20_000) fail('--devices must be a whole number from 1 to 20000');
const brokerFile = values['broker-credentials'] ?? fail('--broker-credentials is required');
const out = values.out ?? fail('--out is required');
const prefix = values.prefix ?? 'fleet';
if (!/^[A-Za-z0-9_-]{1,50}$/.test(prefix)) fail('--prefix must be 1–50 of A–Z a–z 0–9 _ -');

const file: CredentialFile = existsSync(brokerFile) ? loadCredentialFile(brokerFile) : { users: [] };
const ids = fleetDeviceIds(count, prefix);
const taken = new Set(file.users.map((u) => u.username));
const clash = ids.filter((id) => taken.has(id));
if (clash.length > 0) fail(`${brokerFile} already has ${clash.length} of these users (e.g. ${clash[0]}); choose another --prefix`);
const logins: { id: string; password: string }[] = [];
for (const id of ids) {
  const password = randomBytes(18).toString('base64url');
  logins.push({ id, password });
  file.users.push({ username: id, password_hash: await hashPassword(password), role: 'device', device_id: id });
  if (logins.length % 100 === 0) process.stderr.write(`hashed ${logins.length}/${count}\n`);
}
saveCredentialFile(brokerFile, file);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify({ devices: logins }, null, 2)}\n`, { mode: 0o600 });
process.stdout.write(`added ${count} device users to ${brokerFile} (restart the broker to load them); logins in ${out}\n`);
