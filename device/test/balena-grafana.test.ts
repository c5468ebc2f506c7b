import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FIELD, REDIS_KEY } from '@iot/common/protocol';
import { DEVICE_REDIS_CONF, makeTempDir, RedisServer, startServiceProcess } from '@iot/harness/processes';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { CHIP_KINDS, type ChipKind } from '../src/chips/index.ts';
import { fieldNames } from '../src/chips/sensor-spec.ts';

/**
 * The device's Grafana cannot run here (its image is not pullable), so this checks what it would
 * be given: the provisioning, the dashboards against the keys and fields the device code really
 * writes, and, with a real redis-server and the real sensor, every dashboard query as Grafana's
 * read-only Redis user would send it.
 */
const root = fileURLToPath(new URL('../..', import.meta.url));
const grafanaDir = join(root, 'balena/grafana');
const read = (path: string) => readFileSync(join(root, path), 'utf8');

/** A provisioning file, parsed as Grafana's YAML reader would. */
function provisioning<T>(path: string): T {
  return parseYaml(read(path)) as T;
}

interface DatasourceRef {
  type: string;
  uid: string;
}
interface Target {
  refId: string;
  datasource: DatasourceRef;
  type: string;
  command: string;
  keyName: string;
  count?: number;
}
interface Transformation {
  id: string;
  options: Record<string, unknown>;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource: DatasourceRef;
  targets: Target[];
  transformations?: Transformation[];
}
interface Dashboard {
  uid: string;
  panels: Panel[];
}

const datasources = provisioning<{ datasources: { uid: string; type: string; url: string; jsonData: Record<string, unknown> }[] }>(
  'balena/grafana/provisioning/datasources/device-redis.yaml',
).datasources;
const providers = provisioning<{ providers: { type: string; options: { path: string } }[] }>('balena/grafana/provisioning/dashboards/device.yaml').providers;
const dashboardFiles = readdirSync(join(grafanaDir, 'dashboards')).filter((name) => name.endsWith('.json'));
const dashboards = dashboardFiles.map((name) => JSON.parse(readFileSync(join(grafanaDir, 'dashboards', name), 'utf8')) as Dashboard);
const panels = dashboards.flatMap((d) => d.panels);
const dockerfile = read('balena/grafana/Dockerfile.template').replace(/\\\n/g, ' ');

/** ENV defaults of the Grafana image. */
const imageEnv = Object.fromEntries(
  [...dockerfile.matchAll(/^ENV (.+)$/gm)].flatMap((m) => m[1]!.trim().split(/\s+/).map((pair) => pair.split('=') as [string, string])),
);

/** Every field a sensor can write: each chip's quantities, plain and with a name in front. */
const kinds = Object.keys(CHIP_KINDS) as ChipKind[];
const specs = kinds.flatMap((kind) => [
  { kind, address: CHIP_KINDS[kind].defaultAddress },
  { kind, address: CHIP_KINDS[kind].defaultAddress, name: 'outdoor' },
]);
const sensorFields = [...new Set(specs.flatMap(fieldNames))];
const quantities = [...new Set(kinds.flatMap((kind) => fieldNames({ kind, address: CHIP_KINDS[kind].defaultAddress })))];
const identityFields: string[] = Object.values(FIELD);
/** Fields the Redis data source adds to every stream entry (its pkg/redis-stream.go). */
const PLUGIN_FIELDS = ['$time', '$streamId'];

/** The field names and patterns a panel's transformations name. */
function namedFields(panel: Panel): { names: string[]; patterns: string[] } {
  const names: string[] = [];
  const patterns: string[] = [];
  for (const { id, options } of panel.transformations ?? []) {
    if (id === 'filterByValue') names.push(...(options.filters as { fieldName: string }[]).map((f) => f.fieldName));
    else if (id === 'sortBy') names.push(...(options.sort as { field: string }[]).map((s) => s.field));
    else if (id === 'filterFieldsByName') {
      const include = options.include as { names?: string[]; pattern?: string };
      names.push(...(include.names ?? []));
      if (include.pattern !== undefined) patterns.push(include.pattern);
    } else throw new Error(`panel "${panel.title}": transformation ${id} is not known to this test; teach it what the transformation names`);
  }
  return { names, patterns };
}

describe('the Grafana provisioning', () => {
  it('has one data source, the device Redis by a fixed uid, read as the read-only Redis user', () => {
    expect(datasources).toHaveLength(1);
    const [redis] = datasources;
    // Grafana's own ${VAR} syntax, escaped.
    const url = `redis://$\{REDIS_HOST}:$\{REDIS_PORT}/$\{REDIS_DB}`;
    expect(redis).toMatchObject({ uid: 'device-redis', type: 'redis-datasource', url });
    // Grafana fills the URL from the container's environment: the image's defaults name the compose service.
    expect(redis!.url.replace(/\$\{(\w+)\}/g, (_, name: string) => imageEnv[name] ?? '')).toBe('redis://redis:6379/0');
    // ... and the compose file passes the same values as to the device services.
    const compose = parseYaml(read('balena/docker-compose.yml')) as { services: Record<string, { environment?: Record<string, string> }> };
    expect(Object.keys(compose.services)).toContain('redis');
    const redisEnv = (service: string) => Object.fromEntries(Object.entries(compose.services[service]!.environment ?? {}).filter(([name]) => name.startsWith('REDIS_')));
    expect(redisEnv('grafana')).toEqual({ REDIS_HOST: 'redis', REDIS_PORT: imageEnv.REDIS_PORT, REDIS_DB: imageEnv.REDIS_DB });
    for (const service of ['sensor', 'startstopbutton', 'mqtthandler']) expect(redisEnv(service), service).toEqual(redisEnv('grafana'));
    const aclUser = /^user (\S+) on /m.exec(read('balena/redis/grafana-user.conf'))?.[1];
    expect(redis!.jsonData).toMatchObject({ acl: true, user: aclUser });
    // The image installs the plugin the data source needs.
    expect(dockerfile).toMatch(new RegExp(`plugins install ${redis!.type} \\d+\\.\\d+\\.\\d+`));
  });

  it('reads the dashboards from where the image copies them, and the home dashboard is one of them', () => {
    expect(providers).toHaveLength(1);
    const copied = /^COPY balena\/grafana\/dashboards (\S+)$/m.exec(dockerfile)?.[1];
    expect(providers[0]).toMatchObject({ type: 'file', options: { path: copied } });
    const home = imageEnv.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH!;
    expect(home.startsWith(`${copied}/`)).toBe(true);
    expect(dashboardFiles).toContain(home.slice(copied!.length + 1));
    expect(new Set(dashboards.map((d) => d.uid)).size).toBe(dashboards.length);
  });
});

describe('the dashboards', () => {
  it('name only the provisioned data source, in every panel and every query', () => {
    const uids = new Set(datasources.map((d) => d.uid));
    expect(panels.length).toBeGreaterThan(0);
    for (const panel of panels) {
      expect(uids.has(panel.datasource.uid), panel.title).toBe(true);
      expect(panel.targets.length, panel.title).toBeGreaterThan(0);
      for (const target of panel.targets) expect(uids.has(target.datasource.uid), `${panel.title} ${target.refId}`).toBe(true);
    }
  });

  it('query only keys the device writes, with commands a read-only user may run', () => {
    const keys: string[] = Object.values(REDIS_KEY);
    for (const target of panels.flatMap((p) => p.targets)) {
      expect(keys, target.keyName).toContain(target.keyName);
      expect(Object.keys(REDIS_COMMANDS), target.command).toContain(target.command);
    }
    // The charts read the readings stream.
    for (const panel of panels.filter((p) => p.type === 'timeseries')) expect(panel.targets[0]!.keyName).toBe(REDIS_KEY.values);
  });

  it('name only fields the device writes or the data source adds, and each chart shows its quantity from every chip', () => {
    const known = [...PLUGIN_FIELDS, ...identityFields, ...sensorFields];
    const charts = panels.filter((p) => p.type === 'timeseries');
    expect(charts.length).toBeGreaterThan(0);
    const shown = new Set<string>();
    for (const panel of panels) {
      const { names, patterns } = namedFields(panel);
      for (const name of names) expect(known, `${panel.title}: ${name}`).toContain(name);
      for (const pattern of patterns) {
        const re = new RegExp(pattern);
        expect(re.test('$time'), `${panel.title}: the time field`).toBe(true);
        for (const field of identityFields) expect(re.test(field), `${panel.title}: ${field}`).toBe(false);
        const matched = sensorFields.filter((f) => re.test(f));
        const quantity = quantities.find((q) => matched.includes(q));
        expect(quantity, `${panel.title}: a quantity`).toBeDefined();
        // Every chip's field of that quantity, named or not, and nothing else.
        expect(matched.sort(), panel.title).toEqual(sensorFields.filter((f) => f === quantity || f.endsWith(`_${quantity}`)).sort());
        shown.add(quantity!);
      }
    }
    expect([...shown].sort()).toEqual([...quantities].sort());
    // Shutdown markers carry no values; the data source would chart them as zeros.
    for (const panel of charts) expect(namedFields(panel).names, panel.title).toContain(FIELD.event);
  });
});

/** The Redis command each data source command sends (pkg/query.go, pkg/redis-stream.go), over a time range. */
const REDIS_COMMANDS: Record<string, (target: Target, fromMs: number, toMs: number) => string[]> = {
  get: (t) => ['GET', t.keyName],
  xlen: (t) => ['XLEN', t.keyName],
  xrange: (t, from, to) => ['XRANGE', t.keyName, `${from}-0`, `${to}-0`, ...(t.count ? ['COUNT', String(t.count)] : [])],
  xrevrange: (t, from, to) => ['XREVRANGE', t.keyName, `${to}-0`, `${from}-0`, ...(t.count ? ['COUNT', String(t.count)] : [])],
};

type Frame = Map<string, (number | string)[]>;

/** The data frame the data source builds from XRANGE/XREVRANGE: numbers where they parse, missing fields filled with 0 or "". */
function streamFrame(entries: [string, string[]][]): Frame {
  const frame: Frame = new Map([['$time', []]]);
  entries.forEach(([id, flat], row) => {
    frame.get('$time')!.push(Number(id.split('-')[0]));
    for (let i = 0; i < flat.length; i += 2) {
      const value = Number.isNaN(Number(flat[i + 1])) ? flat[i + 1]! : Number(flat[i + 1]);
      if (!frame.has(flat[i]!)) frame.set(flat[i]!, Array(row).fill(typeof value === 'number' ? 0 : ''));
      frame.get(flat[i]!)!.push(value);
    }
    for (const values of frame.values()) if (values.length === row) values.push(typeof values[0] === 'string' ? '' : 0);
  });
  return frame;
}

/** The panel's transformations on a frame, as Grafana applies the ones the dashboards use. */
function transform(frame: Frame, transformations: Transformation[]): Frame {
  let out = frame;
  for (const { id, options } of transformations) {
    if (id === 'filterByValue') {
      const filters = options.filters as { fieldName: string; config: { id: string; options: { value: string } } }[];
      const rows = out.get('$time')!.map((_, row) => row);
      const dropped = new Set(rows.filter((row) => filters.some((f) => f.config.id === 'regex' && new RegExp(f.config.options.value).test(String(out.get(f.fieldName)?.[row] ?? '')))));
      out = new Map([...out].map(([name, values]) => [name, values.filter((_, row) => !dropped.has(row))]));
    } else if (id === 'filterFieldsByName') {
      const re = new RegExp((options.include as { pattern: string }).pattern);
      out = new Map([...out].filter(([name]) => re.test(name)));
    } else if (id !== 'sortBy') throw new Error(`transformation ${id} is not known to this test`);
  }
  return out;
}

describe("the dashboards' queries against a real Redis, as Grafana's Redis user", () => {
  it('run against what the sensor writes, chart its readings without markers, and cannot write anything', async () => {
    const dir = makeTempDir('grafana-redis');
    const config = join(dir.path, 'redis.conf');
    writeFileSync(config, `${readFileSync(DEVICE_REDIS_CONF, 'utf8')}\ninclude ${join(root, 'balena/redis/grafana-user.conf')}\n`);
    const redis = new RedisServer({ configFile: config });
    let viewer: Redis | undefined;
    let admin: Redis | undefined;
    try {
      await redis.start();
      const env = { HARDWARE: 'sim', REDIS_HOST: redis.host, REDIS_PORT: String(redis.port), INTERVAL_SECONDS: '0.1', SENSORS: 'bme280@0x76,sht31@0x44:outdoor' };
      const sensor = startServiceProcess('sensor', env);
      await sensor.waitForLog((r) => r.event === 'reading_recorded' && r.seq === 5, 15_000, 'five readings');
      // A clean stop appends a shutdown marker, which the charts must leave out.
      expect((await sensor.stop('SIGTERM')).code).toBe(0);
      const readings = sensor.logs().filter((r) => r.event === 'reading_recorded').length;

      // As the data source logs in with jsonData.acl and no password: AUTH <user> "".
      viewer = new Redis({ host: redis.host, port: redis.port, lazyConnect: true, maxRetriesPerRequest: 0 });
      await viewer.connect();
      const user = datasources[0]!.jsonData.user as string;
      expect(await viewer.call('AUTH', user, '')).toBe('OK');
      expect(await viewer.ping()).toBe('PONG');

      const toMs = Date.now();
      const fromMs = toMs - 3_600_000;
      for (const panel of panels) {
        for (const target of panel.targets) {
          const [command, ...args] = REDIS_COMMANDS[target.command]!(target, fromMs, toMs);
          const reply = await viewer.call(command!, ...args);
          if (panel.type !== 'timeseries') continue;
          const frame = transform(streamFrame(reply as [string, string[]][]), panel.transformations ?? []);
          const series = [...frame.keys()].filter((name) => name !== '$time');
          expect(series.length, panel.title).toBeGreaterThan(0);
          for (const name of series) {
            const values = frame.get(name)!;
            expect(values, `${panel.title}: ${name}`).toHaveLength(readings);
            for (const value of values) expect(typeof value === 'number' && value > 0, `${panel.title}: ${name} = ${value}`).toBe(true);
          }
        }
      }

      for (const write of [
        ['XADD', REDIS_KEY.values, '*', 'temperature_celsius', '99'],
        ['SET', REDIS_KEY.measurementEnabled, '0'],
        ['DEL', REDIS_KEY.values],
        ['FLUSHALL'],
        ['CONFIG', 'SET', 'maxmemory', '1'],
        ['KEYS', '*'],
      ]) {
        await expect(viewer.call(write[0]!, ...write.slice(1)), write.join(' ')).rejects.toThrow(/NOPERM/);
      }
      // The default user, which the device services use, still may.
      admin = new Redis({ host: redis.host, port: redis.port, lazyConnect: true, maxRetriesPerRequest: 0 });
      await admin.connect();
      expect(await admin.set(REDIS_KEY.measurementEnabled, '1')).toBe('OK');
    } finally {
      viewer?.disconnect();
      admin?.disconnect();
      await redis.dispose();
      dir.remove();
    }
  });
});
