import { GpioError, I2cTimeoutError, type Level } from '@iot/hardware';
import { captureLogs, eventually, holdsFor } from '@iot/harness/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { createRemoteHardware, type RemoteHardware, RemoteHardwareServer, SimulatedFleet } from '../src/remote/index.ts';

const CHIP_ID = 0xd0;

/**
 * The simulator restarts under a running device service: operations fail with the contract's
 * typed errors naming the simulator, the client reconnects by itself and re-opens its pins,
 * buses and watches, and the device works again without being restarted.
 */
describe('remote hardware across a simulator restart', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  /** A simulator (fleet + server) on `port`; 0 picks a free one. */
  async function startSimulator(port = 0) {
    const fleet = new SimulatedFleet({ chips: [{ kind: 'bme280', busNumber: 1, address: 0x76 }] });
    const server = await RemoteHardwareServer.listen({ fleet, port });
    const stop = async () => {
      await server.close();
      await fleet.close();
    };
    cleanup.push(stop);
    return { fleet, server, stop };
  }

  async function connectDevice(port: number, logger = captureLogs('sensor').logger): Promise<RemoteHardware> {
    const hardware = await createRemoteHardware({ host: '127.0.0.1', port, device: 'dev-1', logger, reconnectMinMs: 20, reconnectMaxMs: 200 });
    cleanup.push(() => hardware.close());
    return hardware;
  }

  it('fails with typed errors while the simulator is down, and heals when it is back on the same port', async () => {
    const first = await startSimulator();
    const port = first.server.port;
    const logs = captureLogs('sensor');
    const hardware = await connectDevice(port, logs.logger);

    const button = await hardware.gpio.open({ pin: 17, direction: 'in', pull: 'down' });
    const presses: Level[] = [];
    button.watch('falling', 20, (level) => presses.push(level));
    const led = await hardware.gpio.open({ pin: 20, direction: 'out', initial: 0 });
    await led.write(1);
    const bus = await hardware.openI2cBus(1);
    expect(await bus.readByte(0x76, CHIP_ID)).toBe(0x60);

    await first.fleet.device('dev-1')!.control.handle({ op: 'button', pin: 17, action: 'click', ms: 5, holdMs: 40 });
    await eventually(() => presses.length === 1, 5_000, 'the first click');

    // A transfer in flight when the simulator goes: a stuck bus holds it for the 1 s bus timeout.
    await first.fleet.device('dev-1')!.control.handle({ op: 'bus_fault', bus: 1, address: 0x76, fault: 'stuck' });
    const inFlight = bus.readByte(0x76, CHIP_ID).catch((error: unknown) => error);
    await first.stop();

    const dropped = await inFlight;
    expect(dropped).toBeInstanceOf(I2cTimeoutError);
    expect((dropped as Error).message).toContain(`simulator at 127.0.0.1:${port}`);
    await eventually(() => !hardware.connected, 5_000, 'the client to notice');
    const read = await bus.readByte(0x76, CHIP_ID).catch((error: unknown) => error);
    expect(read).toBeInstanceOf(I2cTimeoutError);
    expect((read as I2cTimeoutError).address).toBe(0x76);
    expect((read as Error).message).toMatch(new RegExp(`^I2C bus 1, address 0x76: the simulator at 127\\.0\\.0\\.1:${port} is unreachable \\(.*\\); reconnecting$`));
    const level = await button.read().catch((error: unknown) => error);
    expect(level).toBeInstanceOf(GpioError);
    expect((level as GpioError).pin).toBe(17);
    expect((level as Error).message).toContain(`GPIO 17: the simulator at 127.0.0.1:${port} is unreachable`);
    expect(logs.find('remote_hardware_disconnected')).toHaveLength(1);

    // A new simulator on the same port: a fresh fleet, which knows nothing of the old one.
    const second = await startSimulator(port);
    await hardware.waitForConnection(10_000);
    const reconnected = await eventually(() => logs.find('remote_hardware_reconnected')[0], 5_000, 'the reconnect log line');
    expect(reconnected).toMatchObject({ level: 'info', device: 'dev-1', restored: 4, restore_failed: 0 });

    expect(await bus.readByte(0x76, CHIP_ID)).toBe(0x60);
    const state = (await second.fleet.device('dev-1')!.control.handle({ op: 'state' })) as { pins: Record<string, { direction: string; level: number }> };
    // The output is driven again at the level it had, the input is watched again.
    expect(state.pins).toEqual({ '17': { direction: 'in', level: 0, pressed: false }, '20': { direction: 'out', level: 1, pressed: false } });

    await second.fleet.device('dev-1')!.control.handle({ op: 'button', pin: 17, action: 'click', ms: 5, holdMs: 40 });
    await eventually(() => presses.length === 2, 5_000, 'the click after the restart');
    await holdsFor(() => presses.length === 2, 100, 'one event per click');
    expect(presses).toEqual([0, 0]);
  });

  it('a service that starts before the simulator waits for it', async () => {
    const probe = await startSimulator();
    const port = probe.server.port;
    await probe.stop();
    const logs = captureLogs('sensor');
    const connecting = createRemoteHardware({ host: '127.0.0.1', port, device: 'early', logger: logs.logger, reconnectMinMs: 20, reconnectMaxMs: 100 });
    await eventually(() => logs.find('remote_hardware_waiting').length === 1, 5_000, 'the client to report it is waiting');
    await startSimulator(port);
    const hardware = await connecting;
    cleanup.push(() => hardware.close());
    expect(await (await hardware.openI2cBus(1)).readByte(0x76, CHIP_ID)).toBe(0x60);
  });

  it('gives up at start with a message naming the simulator when nothing answers', async () => {
    const probe = await startSimulator();
    const port = probe.server.port;
    await probe.stop();
    await expect(createRemoteHardware({ host: '127.0.0.1', port, device: 'lonely', connectTimeoutMs: 300, reconnectMinMs: 20 })).rejects.toThrow(
      `cannot reach the simulator at 127.0.0.1:${port} within 300 ms (ECONNREFUSED); is it running, and are SIM_REMOTE_HOST and SIM_REMOTE_PORT right?`,
    );
  });

  it('a bus opened while the simulator is down works once it is back', async () => {
    const first = await startSimulator();
    const port = first.server.port;
    const hardware = await connectDevice(port);
    await first.stop();
    await eventually(() => !hardware.connected, 5_000, 'the client to notice');
    const bus = await hardware.openI2cBus(1);
    await expect(bus.readByte(0x76, CHIP_ID)).rejects.toBeInstanceOf(I2cTimeoutError);
    await expect(hardware.gpio.open({ pin: 5, direction: 'in', pull: 'up' })).rejects.toBeInstanceOf(GpioError);
    await startSimulator(port);
    await hardware.waitForConnection(10_000);
    expect(await bus.readByte(0x76, CHIP_ID)).toBe(0x60);
  });

  it('closing the client releases its pins on the simulator', async () => {
    const { server, fleet } = await startSimulator();
    const hardware = await connectDevice(server.port);
    await hardware.gpio.open({ pin: 17, direction: 'in', pull: 'down' });
    await hardware.close();
    const state = async () => (await fleet.device('dev-1')!.control.handle({ op: 'state' })) as { pins: Record<string, unknown> };
    await eventually(async () => Object.keys((await state()).pins).length === 0, 5_000, 'the pin released');
    await expect(hardware.gpio.open({ pin: 17, direction: 'in', pull: 'down' })).rejects.toThrow(/closed/);
  });
});
