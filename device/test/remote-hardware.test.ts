import { fileURLToPath } from 'node:url';
import { systemClock } from '@iot/common/clock';
import { EXIT_CONFIG } from '@iot/common/service';
import { type LogRecord, ServiceProcess, startServiceProcess } from '@iot/harness/processes';
import { captureLogs, holdsFor } from '@iot/harness/testing';
import { RemoteHardwareServer, SimulatedFleet, SimulationControlHttpClient } from '@iot/simulator/remote';
import { describe, expect, it } from 'vitest';
import { createChipDriver } from '../src/chips/index.ts';
import { loadHardware } from '../src/hardware/load-hardware.ts';
import { parseUplinkConfig } from '../src/uplink/config.ts';
import { createRebooter } from '../src/uplink/create-uplink.ts';
import { CallbackRebooter } from '../src/uplink/rebooter.ts';
import { useRedisAndBroker } from './redis-and-broker.ts';

const SIMULATOR_MAIN = fileURLToPath(new URL('../../simulator/src/service/main.ts', import.meta.url));

/** Room conditions (simulator/src/environment), within the chips' accuracy and noise. */
function expectRoomValues(values: Record<string, number>, prefix = ''): void {
  expect(values[`${prefix}temperature_celsius`]).toBeCloseTo(21.5, 0);
  expect(Math.abs(values[`${prefix}humidity_percent`]! - 45)).toBeLessThan(3);
  if (`${prefix}pressure_hpa` in values) expect(Math.abs(values[`${prefix}pressure_hpa`]! - 1013.25)).toBeLessThan(2);
}

describe('HARDWARE=remote: device services on the simulator service', () => {
  const bed = useRedisAndBroker({ broker: 'none' });

  /** The simulator service as its own process; resolves with its ports once it is ready. */
  async function startSimulator(env: Record<string, string> = {}) {
    const simulator = new ServiceProcess({
      name: 'simulator',
      command: process.execPath,
      args: [SIMULATOR_MAIN],
      env: { PATH: process.env.PATH, HOME: process.env.HOME, SIM_HARDWARE_PORT: '0', SIM_CONTROL_PORT: '0', ...env },
    });
    bed.onTeardown(() => simulator.kill());
    const ready = await simulator.waitForLog((r) => r.event === 'simulator_ready', 10_000, 'the simulator service');
    return { simulator, hardwarePort: String(ready.hardware_port), control: new SimulationControlHttpClient(`http://127.0.0.1:${ready.control_port}`) };
  }

  const remoteEnv = (port: string, device: string) => ({ HARDWARE: 'remote', SIM_REMOTE_HOST: '127.0.0.1', SIM_REMOTE_PORT: port, SIM_REMOTE_DEVICE: device });
  const readings = (sensor: ServiceProcess) => sensor.logs().filter((r) => r.event === 'reading_recorded');

  it("loadHardware('remote') gives the chip drivers plausible BME280 and SHT31 values from the simulator", async () => {
    const fleet = new SimulatedFleet({
      chips: [
        { kind: 'bme280', busNumber: 1, address: 0x76 },
        { kind: 'sht31', busNumber: 1, address: 0x44 },
      ],
    });
    const server = await RemoteHardwareServer.listen({ fleet });
    bed.onTeardown(async () => {
      await server.close();
      await fleet.close();
    });
    const logs = captureLogs('sensor');
    const hardware = await loadHardware('remote', { remote: { host: '127.0.0.1', port: server.port, device: 'in-process' } }, logs.logger);
    bed.onTeardown(() => hardware.close());
    expect(hardware.kind).toBe('remote');
    const bus = await hardware.openI2cBus(1);
    const bme280 = createChipDriver('bme280', { bus, address: 0x76, clock: systemClock });
    const sht31 = createChipDriver('sht31', { bus, address: 0x44, clock: systemClock });
    await bme280.init();
    await sht31.init();
    const climate = await bme280.read();
    expect(Object.keys(climate).sort()).toEqual(['humidity_percent', 'pressure_hpa', 'temperature_celsius']);
    expectRoomValues(climate);
    expectRoomValues(await sht31.read());
    expect(logs.find('remote_hardware_connected')).toMatchObject([{ component: 'remote-hardware', device: 'in-process' }]);
  });

  it('the sensor and the button of one device share its simulated hardware; a click through HTTP stops measuring', async () => {
    const { hardwarePort, control } = await startSimulator({ SIM_CHIPS: 'bme280@0x76,sht31@0x44' });
    const sensor = bed.startProcess('sensor', { ...remoteEnv(hardwarePort, 'dev-7'), SENSORS: 'bme280@0x76,sht31@0x44:outdoor', INTERVAL_SECONDS: '0.05' });
    const button = bed.startProcess('startstopbutton', { ...remoteEnv(hardwarePort, 'dev-7'), BUTTON_PIN: '17', BUTTON_BOUNCE_MILLIS: '20' });
    await sensor.waitForLog((r) => r.event === 'reading_recorded' && Number(r.seq) >= 5, 15_000, 'five readings');
    await button.waitForLog((r) => r.event === 'button_ready', 10_000, 'the button watching GPIO 17');

    for (const reading of readings(sensor).slice(0, 5)) {
      const values = reading.values as Record<string, number>;
      expect(Object.keys(values)).toHaveLength(5);
      expectRoomValues(values);
      expectRoomValues(values, 'outdoor_');
    }
    expect(await control.devices()).toEqual(['dev-7']);
    expect((await control.state('dev-7')).pins['17']).toEqual({ direction: 'in', level: 0, pressed: false });

    const toggles = () => button.logs().filter((r) => r.event === 'measuring_toggled');
    await control.button('dev-7', 17, 'click', { ms: 10, holdMs: 60 });
    await button.waitForLog((r) => r.event === 'measuring_toggled', 10_000, 'the click to toggle measuring');
    expect(await bed.admin.get('measurement:enabled')).toBe('0');
    await control.button('dev-7', 17, 'click', { ms: 10, holdMs: 60 });
    await button.waitForLog((r) => r.event === 'measuring_toggled' && r.enabled === true, 10_000, 'the second click');
    // Debounce runs next to the simulated pin: the bounce of two clicks makes two toggles, never more.
    await holdsFor(() => toggles().length === 2, 200, 'one toggle per bounced click');
    expect(await bed.admin.get('measurement:enabled')).toBe('1');
  });

  it('a restarted simulator heals the running sensor: chip_error while it is gone, chip_recovered after', async () => {
    const first = await startSimulator({ SIM_CHIPS: 'bme280@0x76' });
    const sensor = bed.startProcess('sensor', { ...remoteEnv(first.hardwarePort, 'dev-r'), SENSORS: 'bme280@0x76', INTERVAL_SECONDS: '0.05' });
    await sensor.waitForLog((r) => r.event === 'reading_recorded', 15_000, 'a first reading');

    await first.simulator.kill();
    const error = await sensor.waitForLog((r) => r.event === 'chip_error', 10_000, 'the sensor to notice');
    expect(error).toMatchObject({ code: 'i2c_timeout', chip: 'bme280@0x76' });
    expect((error.err as { message: string }).message).toContain(`simulator at 127.0.0.1:${first.hardwarePort}`);
    await sensor.waitForLog((r) => r.event === 'remote_hardware_disconnected', 5_000, 'the disconnect log line');

    await startSimulator({ SIM_CHIPS: 'bme280@0x76', SIM_HARDWARE_PORT: first.hardwarePort });
    await sensor.waitForLog((r) => r.event === 'remote_hardware_reconnected', 15_000, 'the sensor reconnecting');
    await sensor.waitForLog((r) => r.event === 'chip_recovered', 15_000, 'the chip answering again');
    const recordedAfter = readings(sensor).length;
    await sensor.waitForLog((r: LogRecord) => r.event === 'reading_recorded' && readings(sensor).indexOf(r) >= recordedAfter, 10_000, 'readings again');
    expect(sensor.running).toBe(true);
  });

  it('HARDWARE=remote without SIM_REMOTE_HOST and SIM_REMOTE_DEVICE is one clear configuration error', async () => {
    const sensor = startServiceProcess('sensor', { HARDWARE: 'remote' });
    expect((await sensor.exited).code).toBe(EXIT_CONFIG);
    const stderr = sensor.stderrLines.join('\n');
    expect(stderr).toContain('invalid configuration');
    expect(stderr).toContain('SIM_REMOTE_HOST: is required with HARDWARE=remote: the host name of the simulator service');
    expect(stderr).toContain('SIM_REMOTE_DEVICE: is required with HARDWARE=remote: the simulated device this service uses');
    expect(stderr).not.toMatch(/\n\s+at /);

    const button = startServiceProcess('startstopbutton', { HARDWARE: 'REMOTE', SIM_REMOTE_HOST: 'simulator', SIM_REMOTE_DEVICE: 'no spaces', SIM_REMOTE_PORT: '0' });
    expect((await button.exited).code).toBe(EXIT_CONFIG);
    const buttonErrors = button.stderrLines.join('\n');
    expect(buttonErrors).toMatch(/SIM_REMOTE_DEVICE: must be 1–64 of A–Z a–z 0–9 \. _ - \(got "no spaces"\)/);
    expect(buttonErrors).toMatch(/SIM_REMOTE_PORT: must be at least 1/);
  });
});

describe('HARDWARE=remote in the uplink', () => {
  it('reboots like simulated hardware, through the callback, never the balena supervisor', async () => {
    let rebooted = 0;
    const config = parseUplinkConfig({ HARDWARE: 'remote', BALENA_DEVICE_UUID: 'dev-1', BALENA_SUPERVISOR_ADDRESS: 'http://127.0.0.1:9', BALENA_SUPERVISOR_API_KEY: 'k' });
    const rebooter = createRebooter(config, () => rebooted++, captureLogs().logger);
    expect(rebooter).toBeInstanceOf(CallbackRebooter);
    await rebooter.reboot();
    expect(rebooted).toBe(1);
  });
});
