import { existsSync, lstatSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { type LogRecord, makeTempDir, RedisServer, type ServiceProcess, startServiceProcess } from '@iot/harness/processes';
import { holdsFor } from '@iot/harness/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulationControl } from '../src/control/index.ts';

/**
 * The control channel against the real thing: the all-in-one device service as its own OS process
 * on simulated hardware, a real redis-server, and the test reaching the hardware only through
 * SIM_CONTROL_SOCKET.
 */
describe('simulation control channel to a device process', () => {
  const redisServer = new RedisServer();
  const tempDir = makeTempDir('control');
  const socketPath = join(tempDir.path, 'device.sock');
  let redis: Redis;
  let device: ServiceProcess;
  let control: SimulationControl;

  function startDevice(): ServiceProcess {
    return startServiceProcess('device-all-in-one', {
      HARDWARE: 'sim',
      REDIS_HOST: redisServer.host,
      REDIS_PORT: String(redisServer.port),
      SIM_CONTROL_SOCKET: socketPath,
      INTERVAL_SECONDS: '0.1',
      SENSORS: 'bme280@0x76,sht31@0x44:outdoor',
      BUTTON_PIN: '17',
      BUTTON_PULL_UP_DOWN: 'DOWN',
      BUTTON_EVENT: 'FALLING',
      BUTTON_BOUNCE_MILLIS: '20',
    });
  }

  const events = (name: string) => device.logs().filter((r) => r.event === name);
  const readings = () => events('reading_recorded');
  /** Resolves with the first record of `name` matching `predicate`, skipping the first `after` records of `name`. */
  const nextEvent = (name: string, after: number, predicate: (r: LogRecord) => boolean = () => true) => {
    let seen = 0;
    return device.waitForLog((r) => r.event === name && seen++ >= after && predicate(r), 10_000, `${name} #${after + 1}`);
  };

  beforeAll(async () => {
    await redisServer.start();
    redis = new Redis({ host: redisServer.host, port: redisServer.port });
    device = startDevice();
    control = await SimulationControl.connect(socketPath, { timeoutMs: 10_000 });
    await device.waitForLog((r) => r.event === 'button_ready', 10_000, 'the button service watching its pin');
    await device.waitForLog((r) => r.event === 'reading_recorded', 10_000, 'a first reading');
  });

  afterAll(async () => {
    await control?.close();
    await device?.kill();
    redis?.disconnect();
    await redisServer.dispose();
    tempDir.remove();
  });

  it('a bounced click toggles measuring exactly once per click', async () => {
    // No key means measuring (the original system's default); the first click stops it.
    expect(await redis.get('measurement:enabled')).toBeNull();

    const first = await control.button(17, 'click', { ms: 10, holdMs: 60 });
    expect(first).toEqual({ pressed: false });
    await nextEvent('measuring_toggled', 0);
    expect(await redis.get('measurement:enabled')).toBe('0');

    const second = await control.button(17, 'click', { ms: 10, holdMs: 60 });
    expect(second).toEqual({ pressed: false });
    await nextEvent('measuring_toggled', 1);
    // Far longer than BUTTON_BOUNCE_MILLIS (20 ms): chatter that slipped through would have toggled by now.
    await holdsFor(() => events('measuring_toggled').length === 2, 300, 'two toggles for two clicks');

    expect(events('measuring_toggled').map((r) => r.enabled)).toEqual([false, true]);
    expect(await redis.get('measurement:enabled')).toBe('1');
  });

  it('press and release leave the contact where asked, and state shows it', async () => {
    const toggledBefore = events('measuring_toggled').length;
    expect(await control.button(17, 'press')).toEqual({ pressed: true });
    const pressed = await control.state();
    // Pull-down input (BUTTON_PULL_UP_DOWN=DOWN): a held button pulls it to 3.3 V.
    expect(pressed.pins['17']).toEqual({ direction: 'in', level: 1, pressed: true });
    // Held longer than BUTTON_BOUNCE_MILLIS (20 ms), or the debouncer rightly ignores the press;
    // the press is a rising edge, and BUTTON_EVENT=FALLING toggles only on the release.
    await holdsFor(() => events('measuring_toggled').length === toggledBefore, 60, 'no toggle while the button is held');

    expect(await control.button(17, 'bounce', { ms: 10, settle: 'released' })).toEqual({ pressed: false });
    await nextEvent('measuring_toggled', toggledBefore);
    expect(await redis.get('measurement:enabled')).toBe('0');
    // Back to measuring for the sensor tests below.
    await control.button(17, 'click');
    await nextEvent('measuring_toggled', toggledBefore + 1);
    expect(await redis.get('measurement:enabled')).toBe('1');
  });

  it('a NACK on the SHT31 address makes the sensor report chip_error, and clearing it chip_recovered', async () => {
    const isSht31 = (r: LogRecord) => r.chip === 'sht31@0x44:outdoor';
    const errorsBefore = events('chip_error').length;
    await control.busFault(1, 0x44, 'nack');
    const error = await nextEvent('chip_error', errorsBefore, isSht31);
    expect(error).toMatchObject({ code: 'i2c_nack' });
    expect((await control.state()).busFaults).toEqual({ '1:0x44': 'nack' });

    const recoveriesBefore = events('chip_recovered').length;
    await control.busFault(1, 0x44, null);
    const recovered = await nextEvent('chip_recovered', recoveriesBefore, isSht31);
    expect(Number(recovered.failures)).toBeGreaterThanOrEqual(1);
    expect((await control.state()).busFaults).toEqual({});
  });

  it('conditions set to 30 °C show up in the recorded readings of both chips', async () => {
    const before = readings().at(-1)?.values as Record<string, number>;
    // Room conditions (21.5 °C) until now, so 30 °C cannot be there by accident.
    expect(before.temperature_celsius).toBeLessThan(25);

    const now = await control.conditions({ temperatureCelsius: 30 });
    expect(now).toEqual({ temperatureCelsius: 30, humidityPercent: 45, pressureHpa: 1013.25 });

    const near30 = (r: LogRecord) => {
      const values = r.values as Record<string, number>;
      return Math.abs(values.temperature_celsius! - 30) < 0.5 && Math.abs(values.outdoor_temperature_celsius! - 30) < 0.5;
    };
    await device.waitForLog((r) => r.event === 'reading_recorded' && near30(r), 10_000, 'a reading at 30 °C');
    const settledAt = readings().length;
    await nextEvent('reading_recorded', settledAt + 4);
    const after = readings().slice(settledAt, settledAt + 5);
    expect(after).toHaveLength(5);
    for (const reading of after) expect(near30(reading)).toBe(true);
  });

  it('answers invalid requests with an explanation and keeps the device running', async () => {
    await expect(control.request({ op: 'explode' })).rejects.toThrow(/unknown op "explode"; expected one of button, bus_fault/);
    await expect(control.button(99, 'press')).rejects.toThrow(/invalid button request: pin: .*27/);
    await expect(control.button(5, 'click')).rejects.toThrow(/pin 5 is not an input .*inputs: 17.*BUTTON_PIN/);
    await expect(control.chipFault(1, 0x76, 'crc')).rejects.toThrow(/BME280 sends no checksum/);
    await expect(control.chipFault(1, 0x45, 'implausible')).rejects.toThrow(/no simulated chip at bus 1, address 0x45 \(chips there: 0x44 Sht31Model, 0x76 Bme280Model\)/);
    await expect(control.busFault(3, 0x44, 'nack')).rejects.toThrow(/no simulated I2C bus 3 \(buses: 1\)/);
    await expect(control.request({ op: 'conditions', temperature: 30 })).rejects.toThrow(/invalid conditions request: .*temperature/);

    // Garbage on the wire gets an answer too, without an id to match it to.
    const raw = await rawExchange(socketPath, 'this is not json\n');
    expect(JSON.parse(raw)).toEqual({ id: null, ok: false, error: 'request is not JSON: this is not json' });

    expect(device.running).toBe(true);
    const state = await control.state();
    expect(state.chips).toEqual([
      { bus: 1, address: '0x44', model: 'Sht31Model', fault: null },
      { bus: 1, address: '0x76', model: 'Bme280Model', fault: null },
    ]);
    const seen = readings().length;
    await nextEvent('reading_recorded', seen);
  });

  it('removes the socket on a clean stop, and a client reconnects to the restarted device', async () => {
    expect(lstatSync(socketPath).isSocket()).toBe(true);
    const exit = await device.stop('SIGTERM');
    expect(exit.code).toBe(0);
    expect(existsSync(socketPath)).toBe(false);

    // A crash leaves the socket file behind; the next start replaces it.
    device = startDevice();
    await device.waitForLog((r) => r.event === 'button_ready', 10_000, 'the restarted device');
    expect((await control.state()).pins['17']).toMatchObject({ direction: 'in', pressed: false });
    await device.kill();
    expect(existsSync(socketPath)).toBe(true);
    await expect(SimulationControl.connect(socketPath, { timeoutMs: 200 })).rejects.toThrow(
      `cannot reach simulation control at ${socketPath} (ECONNREFUSED); is the device process running with HARDWARE=sim and SIM_CONTROL_SOCKET=${socketPath}?`,
    );

    device = startDevice();
    await device.waitForLog((r) => r.event === 'button_ready', 10_000, 'the device after a crash');
    expect((await control.state()).chips).toHaveLength(2);
  });
});

/** Sends `text` on a fresh connection and resolves with the first line the server answers. */
function rawExchange(socketPath: string, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    let received = '';
    socket.setEncoding('utf8');
    socket.on('error', reject);
    socket.on('connect', () => socket.write(text));
    socket.on('data', (chunk: string) => {
      received += chunk;
      const newline = received.indexOf('\n');
      if (newline >= 0) {
        socket.destroy();
        resolve(received.slice(0, newline));
      }
    });
  });
}
