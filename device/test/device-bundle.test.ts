import { REDIS_KEY } from '@iot/common/protocol';
import { BackendStack, storedReadings } from '@iot/harness';
import { checkDelivery, historyFromLogs } from '@iot/harness/checker';
import { entrypointPath, makeTempDir, RedisServer, ServiceProcess } from '@iot/harness/processes';
import { eventually } from '@iot/harness/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleDevice } from '../build/bundle.ts';
import { targetOfCommandLine } from '../src/health/device-health.ts';

/** The Node flags and malloc setting measured best by bench:device-footprint, which keep WebAssembly (fetch needs it). */
const SMALL_FOOTPRINT = {
  nodeArgs: ['--max-semi-space-size=1', '--optimize-for-size', '--no-opt', '--no-maglev', '--no-sparkplug'],
  env: { GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=65536' },
};

/**
 * The production build (device/build/bundle.ts) runs like the sources: the bundled all-in-one
 * device, started with the env a source one gets (and the small-footprint Node flags the image
 * is to use), records readings that a real aedes broker, receiver and SQLite store exactly once,
 * and logs the same events with the same fields as the source device running beside it.
 */
describe('device bundle', () => {
  const out = makeTempDir('device-bundle');
  const started: { process: ServiceProcess; redis: RedisServer; admin: Redis }[] = [];
  let stack: BackendStack;
  let db: Awaited<ReturnType<BackendStack['database']>>;
  let bundles: Awaited<ReturnType<typeof bundleDevice>>;

  beforeAll(async () => {
    [bundles, stack] = await Promise.all([bundleDevice(out.path), new BackendStack({ deviceIds: ['bundled-1', 'source-1'], database: 'sqlite' }).start()]);
    await stack.startReceiver();
    db = await stack.database();
  }, 120_000);

  afterAll(async () => {
    await Promise.all(started.map(async ({ process, redis, admin }) => {
      admin.disconnect();
      await process.kill();
      await redis.dispose();
    }));
    await stack?.dispose();
    out.remove();
  });

  const bundled = (entry: string) => bundles.files.find((f) => f.entry === entry)!.file;

  /** An all-in-one device on its own redis-server, configured as the harness configures one. */
  async function startDevice(id: string, main: string, extraEnv: Record<string, string> = {}, nodeArgs: readonly string[] = []) {
    const redis = await new RedisServer().start();
    const login = stack.login(id);
    const process = new ServiceProcess({
      name: id,
      command: globalThis.process.execPath,
      args: [...nodeArgs, main],
      env: {
        PATH: globalThis.process.env.PATH,
        HOME: globalThis.process.env.HOME,
        HARDWARE: 'sim',
        REDIS_HOST: redis.host,
        REDIS_PORT: String(redis.port),
        SENSORS: 'bme280@0x76,sht31@0x44:outdoor',
        INTERVAL_SECONDS: '0.2',
        BUTTON_PIN: '17',
        BALENA_DEVICE_UUID: id,
        MQTT_HOST: '127.0.0.1',
        MQTT_PORT: String(stack.brokerPort),
        MQTT_USERNAME: login.username,
        MQTT_PASSWORD: login.password,
        UPLINK_STATUS_SECONDS: '5',
        ...extraEnv,
      },
    });
    const device = { process, redis, admin: new Redis({ host: redis.host, port: redis.port }) };
    started.push(device);
    return device;
  }

  it('writes one module per entry point, with the native addons left outside', () => {
    expect(bundles.files.map((f) => f.entry).sort()).toEqual(['all-in-one', 'button', 'health', 'sensor', 'uplink']);
    for (const { file, bytes } of bundles.files) {
      expect(file.startsWith(out.path)).toBe(true);
      expect(bytes).toBeGreaterThan(0);
    }
  });

  it('stores every reading of the bundled device, run with the small-footprint settings, exactly once and logs what the source device logs', async () => {
    const [bundle, source] = await Promise.all([
      startDevice('bundled-1', bundled('all-in-one'), SMALL_FOOTPRINT.env, SMALL_FOOTPRINT.nodeArgs),
      startDevice('source-1', entrypointPath('device-all-in-one')),
    ]);
    await eventually(async () => (await db.readings.countReadings('bundled-1')) >= 10, 30_000, 'ten readings of the bundled device stored');
    await eventually(async () => (await db.readings.countReadings('source-1')) >= 10, 30_000, 'ten readings of the source device stored');

    // Stop measuring (as the button does), let the uplink confirm the rest, then check it all.
    for (const device of [bundle, source]) await device.admin.set(REDIS_KEY.measurementEnabled, '0');
    await eventually(
      async () => {
        const report = checkDelivery(historyFromLogs('bundled-1', bundle.process.logs()), await storedReadings(db, ['bundled-1']));
        return report.lost === 0 && report.stored >= 10 ? report : undefined;
      },
      30_000,
      'every recorded reading of the bundled device stored',
    ).then((report) => expect(report).toMatchObject({ lost: 0, duplicated: 0, corrupted: 0 }));

    // Same events, each with the same fields (values such as times and ids differ, of course).
    const shapes = (p: ServiceProcess) => new Set(p.logs().filter((r) => typeof r.event === 'string').map((r) => `${r.event}: ${Object.keys(r).sort().join(',')}`));
    const difference = () => {
      const [fromBundle, fromSource] = [shapes(bundle.process), shapes(source.process)];
      return { onlyBundle: [...fromBundle].filter((x) => !fromSource.has(x)), onlySource: [...fromSource].filter((x) => !fromBundle.has(x)) };
    };
    // One may be a status report ahead of the other: wait for them to agree, then show what differs.
    await eventually(
      () => {
        const d = difference();
        return d.onlyBundle.length + d.onlySource.length === 0 ? d : undefined;
      },
      15_000,
      'the same log events from both devices',
    ).catch(() => undefined);
    expect(difference()).toEqual({ onlyBundle: [], onlySource: [] });
    expect(shapes(bundle.process).size).toBeGreaterThan(5);
    expect(bundle.process.running).toBe(true);
  }, 120_000);

  it('refuses a bad configuration as the sources do: same message, same exit code', async () => {
    const env = { INTERVAL_SECONDS: 'often', BUTTON_PIN: '2' };
    const [bundle, source] = await Promise.all([startDevice('bundled-1', bundled('all-in-one'), env), startDevice('source-1', entrypointPath('device-all-in-one'), env)]);
    const [bundleExit, sourceExit] = await Promise.all([bundle.process.exited, source.process.exited]);
    expect(bundleExit.code).toBe(78);
    expect(bundleExit).toEqual(sourceExit);
    expect(bundle.process.stderrLines.join('\n')).toContain('INTERVAL_SECONDS');
    expect(bundle.process.stderrLines).toEqual(source.process.stderrLines);
  });

  it('is recognised by the healthcheck from its command line', () => {
    expect(targetOfCommandLine(`node ${bundled('all-in-one')} `)).toBe('device');
    expect(targetOfCommandLine(`node --max-semi-space-size=1 ${bundled('sensor')}`)).toBe('sensor');
    expect(targetOfCommandLine(`node ${bundled('button')} `)).toBe('startstopbutton');
    expect(targetOfCommandLine(`node ${bundled('uplink')} `)).toBe('mqtthandler');
    expect(targetOfCommandLine(`node ${bundled('health')} `)).toBeUndefined();
  });
});
