import { MAX_DEVICES_PER_REDIS } from './redis-pool.ts';

/** A bad command line: main prints the message and exits with 2. */
export class FlagError extends Error {}

export interface FleetFlags {
  devices: number;
  durationSeconds: number;
  intervalSeconds: number;
  seed: number;
  workers: number;
  devicesPerRedis: number;
  /** The harness's backend (default) or one given by address. */
  backend: { kind: 'harness'; database: 'mariadb' | 'sqlite' } | { kind: 'external'; mqtt: { host: string; port: number }; credentials: string; databaseUrl: string };
  json: string | undefined;
  logDir: string | undefined;
}

export const USAGE = `usage: npm run fleet -- --devices N [options]
  --devices N            virtual devices (1–20000; default 10)
  --minutes M | --seconds S
                         how long to measure once every device is up (default 1 minute)
  --interval S           reading interval in seconds (default 1)
  --seed N               seed of the simulated chips' noise (default 1; device i uses seed+i)
  --workers N            worker processes the devices are spread over (default 2)
  --devices-per-redis N  devices per redis-server, one database each (1–${MAX_DEVICES_PER_REDIS}; default ${MAX_DEVICES_PER_REDIS})
  --database mariadb|sqlite
                         the harness backend's database (default mariadb)
  --mqtt-url mqtt://host:port
                         a running backend's broker instead of the harness's; needs
  --credentials FILE     {"devices":[{"id":"dev-1","password":"..."}]} (username defaults to the id)
  --database-url URL     that backend's database, for the checker (mysql://... or sqlite:path)
  --json PATH            write the figures as JSON
  --log-dir DIR          keep the devices' warnings and errors (worker-N.log) there`;

const KNOWN = new Set(['devices', 'minutes', 'seconds', 'interval', 'seed', 'workers', 'devices-per-redis', 'database', 'mqtt-url', 'credentials', 'database-url', 'json', 'log-dir', 'help']);

export function parseFleetFlags(argv: readonly string[]): FleetFlags | 'help' {
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new FlagError(`unexpected argument "${arg}"`);
    const [name, inline] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    if (!KNOWN.has(name)) throw new FlagError(`unknown flag --${name}`);
    if (name === 'help') return 'help';
    const value = inline ?? argv[++i];
    if (value === undefined || (inline === undefined && value.startsWith('--'))) throw new FlagError(`--${name} needs a value`);
    if (values.has(name)) throw new FlagError(`--${name} given twice`);
    values.set(name, value);
  }
  if (values.has('minutes') && values.has('seconds')) throw new FlagError('give --minutes or --seconds, not both');
  const durationSeconds = values.has('minutes') ? number(values, 'minutes', 1 / 60, 24 * 60, 1) * 60 : number(values, 'seconds', 1, 24 * 3600, 60);
  const external = ['mqtt-url', 'credentials', 'database-url'].filter((n) => values.has(n));
  if (external.length > 0 && external.length < 3) {
    throw new FlagError('--mqtt-url, --credentials and --database-url go together (a running backend: its broker, the devices\' logins, its database for the checker)');
  }
  if (external.length === 3 && values.has('database')) throw new FlagError('--database chooses the harness backend\'s database; with --mqtt-url give --database-url');
  const database = values.get('database') ?? 'mariadb';
  if (database !== 'mariadb' && database !== 'sqlite') throw new FlagError(`--database must be mariadb or sqlite (got "${database}")`);
  return {
    devices: integer(values, 'devices', 1, 20_000, 10),
    durationSeconds,
    intervalSeconds: number(values, 'interval', 0.01, 86_400, 1),
    seed: integer(values, 'seed', 0, 2 ** 31 - 1, 1),
    workers: integer(values, 'workers', 1, 64, 2),
    devicesPerRedis: integer(values, 'devices-per-redis', 1, MAX_DEVICES_PER_REDIS, MAX_DEVICES_PER_REDIS),
    backend:
      external.length === 3
        ? { kind: 'external', mqtt: mqttAddress(values.get('mqtt-url')!), credentials: values.get('credentials')!, databaseUrl: values.get('database-url')! }
        : { kind: 'harness', database },
    json: values.get('json'),
    logDir: values.get('log-dir'),
  };
}

function number(values: Map<string, string>, name: string, min: number, max: number, fallback: number): number {
  const text = values.get(name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < min || value > max) throw new FlagError(`--${name} must be a number from ${min} to ${max} (got "${text}")`);
  return value;
}

function integer(values: Map<string, string>, name: string, min: number, max: number, fallback: number): number {
  const text = values.get(name);
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) throw new FlagError(`--${name} must be a whole number from ${min} to ${max} (got "${text}")`);
  return Number(text);
}

function mqttAddress(text: string): { host: string; port: number } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new FlagError(`--mqtt-url must look like mqtt://host:1883 (got "${text}")`);
  }
  if (url.protocol !== 'mqtt:') throw new FlagError(`--mqtt-url: only plain mqtt:// is supported (got "${url.protocol}//")`);
  if (url.username !== '' || url.password !== '') throw new FlagError('--mqtt-url takes no login: each device logs in with its own, from --credentials');
  if (url.hostname === '') throw new FlagError(`--mqtt-url needs a host (got "${text}")`);
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port === '' ? 1883 : Number(url.port) };
}
