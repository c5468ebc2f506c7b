import { I2cNackError, type Level } from '@iot/hardware';
import { findFreePort } from '@iot/harness/processes';
import { eventually, holdsFor } from '@iot/harness/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ControlHttpServer,
  createRemoteHardware,
  type RemoteHardware,
  RemoteHardwareServer,
  SimulatedFleet,
  SimulationControlHttpClient,
  SimulationControlHttpError,
} from '../src/remote/index.ts';

/**
 * The simulator's HTTP control API, with a remote client holding a device's button pin and I2C
 * bus: what is done through HTTP reaches the client over the remote hardware protocol.
 */
describe('simulation control over HTTP', () => {
  const fleet = new SimulatedFleet({
    chips: [
      { kind: 'bme280', busNumber: 1, address: 0x76 },
      { kind: 'sht31', busNumber: 1, address: 0x44 },
    ],
  });
  let hardwareServer: RemoteHardwareServer;
  let http: ControlHttpServer;
  let base: string;
  let control: SimulationControlHttpClient;
  let device: RemoteHardware;
  const presses: Level[] = [];

  beforeAll(async () => {
    hardwareServer = await RemoteHardwareServer.listen({ fleet });
    http = await ControlHttpServer.listen({ devices: fleet, health: () => hardwareServer.stats() });
    base = `http://127.0.0.1:${http.port}`;
    control = new SimulationControlHttpClient(base);
    device = await createRemoteHardware({ host: '127.0.0.1', port: hardwareServer.port, device: 'dev-h' });
    const pin = await device.gpio.open({ pin: 17, direction: 'in', pull: 'down' });
    pin.watch('falling', 20, (level) => presses.push(level));
  });

  afterAll(async () => {
    await device?.close();
    await http?.close();
    await hardwareServer?.close();
    await fleet.close();
  });

  it('reports health and the devices by name', async () => {
    expect(await control.health()).toEqual({ status: 'ok', devices: 1, connections: 1, devicesConnected: 1 });
    expect(await control.devices()).toEqual(['dev-h']);
    const state = await control.state('dev-h');
    expect(state.pins).toEqual({ '17': { direction: 'in', level: 0, pressed: false } });
    expect(state.chips).toEqual([
      { bus: 1, address: '0x44', model: 'Sht31Model', fault: null },
      { bus: 1, address: '0x76', model: 'Bme280Model', fault: null },
    ]);
    expect(state.conditions).toEqual({ temperatureCelsius: 21.5, humidityPercent: 45, pressureHpa: 1013.25 });
  });

  it('a bounced click through HTTP reaches the watch of the remote client once', async () => {
    expect(await control.button('dev-h', 17, 'click', { ms: 10, holdMs: 60 })).toEqual({ pressed: false });
    await eventually(() => presses.length === 1, 5_000, 'the click to reach the remote watch');
    await holdsFor(() => presses.length === 1, 150, 'one event for one bounced click');
    expect(presses).toEqual([0]);
  });

  it('a NACK fault through HTTP makes a remote read throw I2cNackError, and clearing it heals', async () => {
    const bus = await device.openI2cBus(1);
    expect(await bus.readByte(0x76, 0xd0)).toBe(0x60);
    await control.busFault('dev-h', 1, 0x76, 'nack');
    const error = await bus.readByte(0x76, 0xd0).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(I2cNackError);
    expect((error as I2cNackError).address).toBe(0x76);
    expect((await control.state('dev-h')).busFaults).toEqual({ '1:0x76': 'nack' });
    await control.busFault('dev-h', 1, 0x76, null);
    expect(await bus.readByte(0x76, 0xd0)).toBe(0x60);
    await bus.close();
  });

  it('injects chip faults and sets conditions', async () => {
    await control.chipFault('dev-h', 1, 0x44, 'crc');
    expect((await control.state('dev-h')).chips.find((c) => c.address === '0x44')?.fault).toBe('crc');
    await control.chipFault('dev-h', 1, 0x44, null);
    expect(await control.conditions('dev-h', { temperatureCelsius: 30 })).toEqual({ temperatureCelsius: 30, humidityPercent: 45, pressureHpa: 1013.25 });
    expect((await control.state('dev-h')).conditions.temperatureCelsius).toBe(30);
  });

  it('answers every bad request with a 4xx and a message, and keeps serving', async () => {
    const post = (path: string, body: string, type = 'application/json') =>
      fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': type }, body });
    const expectError = async (response: Promise<Response>, status: number, message: RegExp) => {
      const answer = await response;
      expect(answer.status).toBe(status);
      expect(answer.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(((await answer.json()) as { error: string }).error).toMatch(message);
      return answer;
    };

    await expectError(fetch(`${base}/nope`), 404, /no such path \/nope; see GET \/health/);
    await expectError(fetch(`${base}/devices/ghost`), 404, /no simulated device "ghost" \(devices: dev-h\); a device exists once one of its services has connected with SIM_REMOTE_DEVICE=ghost/);
    await expectError(post('/devices/ghost/button', '{"pin":17,"action":"click"}'), 404, /no simulated device "ghost"/);
    await expectError(post('/devices/dev-h/explode', '{}'), 404, /no such action "explode"; .* button, bus-fault, chip-fault, conditions/);
    const wrongMethod = await expectError(fetch(`${base}/devices/dev-h/button`), 405, /GET is not allowed here; use POST/);
    expect(wrongMethod.headers.get('allow')).toBe('POST');
    await expectError(fetch(`${base}/devices`, { method: 'POST' }), 405, /use GET/);
    await expectError(fetch(`${base}/health`, { method: 'DELETE' }), 405, /DELETE is not allowed/);
    await expectError(post('/devices/dev-h/button', 'pin=17', 'application/x-www-form-urlencoded'), 415, /Content-Type: application\/json .*--json/);
    await expectError(post('/devices/dev-h/button', '{"pin":17,'), 400, /request body is not JSON/);
    await expectError(post('/devices/dev-h/button', '[17]'), 400, /must be a JSON object/);
    await expectError(post('/devices/dev-h/button', '{"pin":99,"action":"click"}'), 400, /invalid button request: pin: .*27/);
    await expectError(post('/devices/dev-h/button', '{"pin":17,"action":"click","id":3}'), 400, /invalid button request: .*id/);
    await expectError(post('/devices/dev-h/bus-fault', '{"bus":1,"address":118,"fault":"melt"}'), 400, /invalid bus-fault request: fault/);
    await expectError(post('/devices/dev-h/conditions', '{"temperature":30}'), 400, /invalid conditions request: .*temperature/);
    await expectError(post('/devices/dev-h/button', '{"pin":5,"action":"click"}'), 409, /pin 5 is not an input any service of this device has open \(inputs: 17\); check BUTTON_PIN/);
    await expectError(post('/devices/dev-h/chip-fault', '{"bus":1,"address":118,"fault":"crc"}'), 409, /BME280 sends no checksum/);
    await expectError(post('/devices/dev-h/chip-fault', '{"bus":1,"address":69,"fault":"crc"}'), 409, /no simulated chip at bus 1, address 0x45/);
    await expectError(post('/devices/dev-h/bus-fault', '{"bus":3,"address":118,"fault":"nack"}'), 409, /no simulated I2C bus 3 \(buses: 1\)/);
    await expectError(post('/devices/dev-h/conditions', JSON.stringify({ pad: 'x'.repeat(20_000) })), 413, /over the limit of 16384/);
    await expectError(fetch(`${base}/devices/%E0%A4%A`), 400, /malformed percent-encoding/);

    const typed = await control.button('dev-h', 5, 'press').catch((e: unknown) => e);
    expect(typed).toBeInstanceOf(SimulationControlHttpError);
    expect((typed as SimulationControlHttpError).status).toBe(409);
    expect(await control.health()).toMatchObject({ status: 'ok' });
  });

  it('a client pointed at nothing says where it tried', async () => {
    const port = await findFreePort();
    const nowhere = new SimulationControlHttpClient(`http://127.0.0.1:${port}`);
    await expect(nowhere.devices()).rejects.toThrow(`cannot reach the simulation control API at http://127.0.0.1:${port} (ECONNREFUSED)`);
  });
});
