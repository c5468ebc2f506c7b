import { fileURLToPath } from 'node:url';
import { EXIT_CONFIG } from '@iot/common/service';
import { type LogRecord, ServiceProcess } from '@iot/harness/processes';
import { eventually } from '@iot/harness/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { createRemoteHardware, deviceSeed, type RemoteHardware, SimulationControlHttpClient } from '../src/remote/index.ts';

const MAIN = fileURLToPath(new URL('../src/service/main.ts', import.meta.url));

function startSimulator(env: NodeJS.ProcessEnv): ServiceProcess {
  return new ServiceProcess({ name: 'simulator', command: process.execPath, args: [MAIN], env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env } });
}

/** The simulator service as its own OS process, configured by env vars only, as its container runs it. */
describe('simulator service (node simulator/src/service/main.ts)', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  async function running(env: NodeJS.ProcessEnv = {}) {
    const simulator = startSimulator({ SIM_HARDWARE_PORT: '0', SIM_CONTROL_PORT: '0', ...env });
    cleanup.push(() => simulator.stop());
    const ready = await simulator.waitForLog((r) => r.event === 'simulator_ready', 10_000, 'the simulator to be ready');
    return { simulator, ready, hardwarePort: Number(ready.hardware_port), control: new SimulationControlHttpClient(`http://127.0.0.1:${ready.control_port}`) };
  }

  async function device(port: number, name: string): Promise<RemoteHardware> {
    const hardware = await createRemoteHardware({ host: '127.0.0.1', port, device: name, connectTimeoutMs: 5_000 });
    cleanup.push(() => hardware.close());
    return hardware;
  }

  it('serves devices created on first hello, each with the default chips, and the control API', async () => {
    const { simulator, ready, hardwarePort, control } = await running({ SIM_SEED: '5' });
    expect(ready).toMatchObject({ level: 'info', service: 'simulator', bind: '127.0.0.1', chips: ['bme280@0x76', 'sht31@0x44'], i2c_bus: 1, environment: 'room', max_devices: 1000 });

    const bus = await (await device(hardwarePort, 'kitchen')).openI2cBus(1);
    expect(await bus.readByte(0x76, 0xd0)).toBe(0x60);
    await device(hardwarePort, 'garden');
    expect((await control.state('garden')).chips).toEqual([
      { bus: 1, address: '0x44', model: 'Sht31Model', fault: null },
      { bus: 1, address: '0x76', model: 'Bme280Model', fault: null },
    ]);

    expect(await control.devices()).toEqual(['kitchen', 'garden']);
    expect(await control.health()).toEqual({ status: 'ok', devices: 2, connections: 2, devicesConnected: 2 });
    const created = simulator.logs().filter((r) => r.event === 'device_created');
    // Seeds derive from SIM_SEED and the name: different per device, the same on every run.
    expect(created.map((r) => [r.device, r.seed])).toEqual([
      ['kitchen', deviceSeed(5, 'kitchen')],
      ['garden', deviceSeed(5, 'garden')],
    ]);
    expect(deviceSeed(5, 'kitchen')).not.toBe(deviceSeed(5, 'garden'));
    expect(simulator.logs().filter((r: LogRecord) => r.event === 'device_connected').map((r) => r.device)).toEqual(['kitchen', 'garden']);
  });

  it('refuses the device after SIM_MAX_DEVICES with a clear error and keeps serving', async () => {
    const { simulator, hardwarePort, control } = await running({ SIM_MAX_DEVICES: '1', SIM_CHIPS: 'bme280@0x77' });
    const only = await (await device(hardwarePort, 'only')).openI2cBus(1);
    await expect(createRemoteHardware({ host: '127.0.0.1', port: hardwarePort, device: 'extra', connectTimeoutMs: 5_000 })).rejects.toThrow(
      /refused device "extra": the simulator already holds its maximum of 1 devices \(SIM_MAX_DEVICES\)/,
    );
    expect(simulator.logs().find((r) => r.event === 'hello_refused')).toMatchObject({ level: 'warn', device: 'extra' });
    expect(await only.readByte(0x77, 0xd0)).toBe(0x60);
    expect(await control.devices()).toEqual(['only']);
  });

  it('stops cleanly on SIGTERM, telling its clients', async () => {
    const { simulator, hardwarePort } = await running();
    const hardware = await device(hardwarePort, 'leaving');
    const exit = await simulator.stop('SIGTERM');
    expect(exit.code).toBe(0);
    expect(simulator.logs().at(-1)).toMatchObject({ msg: 'stopped' });
    await eventually(() => !hardware.connected, 5_000, 'the client to see the simulator go');
  });

  it('reports every configuration mistake at once, without a stack trace', async () => {
    const simulator = startSimulator({
      SIM_HARDWARE_PORT: 'seventy',
      SIM_CONTROL_PORT: '70000',
      SIM_CHIPS: 'bme280@0x76,dht22,sht31@0x50',
      SIM_ENVIRONMENT: 'weather',
      SIM_MAX_DEVICES: '0',
    });
    const exit = await simulator.exited;
    expect(exit.code).toBe(EXIT_CONFIG);
    const stderr = simulator.stderrLines.join('\n');
    expect(stderr).toContain('simulator: invalid configuration');
    expect(stderr).toMatch(/SIM_HARDWARE_PORT: must be a whole number from 0 to 65535 \(got "seventy"\)/);
    expect(stderr).toMatch(/SIM_CONTROL_PORT: must be at most 65535/);
    expect(stderr).toMatch(/SIM_CHIPS: "dht22": no simulated chip "dht22"; known: bme280, sht31/);
    expect(stderr).toMatch(/SIM_CHIPS: "sht31@0x50": a sht31 answers only at 0x44 or 0x45/);
    expect(stderr).toMatch(/SIM_ENVIRONMENT: "weather" is not one of room, daily/);
    expect(stderr).toMatch(/SIM_MAX_DEVICES: must be at least 1/);
    expect(stderr).not.toMatch(/\n\s+at /);
    expect(simulator.logs().find((r) => r.level === 'fatal')?.problems).toHaveLength(6);
  });

  it('fails to start with a message naming the address when its port is taken', async () => {
    const { ready } = await running();
    const second = startSimulator({ SIM_HARDWARE_PORT: String(ready.hardware_port), SIM_CONTROL_PORT: '0' });
    const exit = await second.exited;
    expect(exit.code).toBe(1);
    const fatal = second.logs().find((r) => r.level === 'fatal') as { err?: { message?: string } } | undefined;
    expect(fatal?.err?.message).toContain(`cannot serve remote hardware on 127.0.0.1:${ready.hardware_port}: listen EADDRINUSE`);
  });
});
