import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { OriginalFakeDevice, OriginalSoftware } from '../../src/original/index.ts';
import { makeTempDir } from '../../src/processes/index.ts';

describe('finding the original software', () => {
  const made: { remove(): void }[] = [];
  afterEach(() => {
    for (const dir of made.splice(0)) dir.remove();
  });

  it('names what a folder given by IOT_ORIGINAL_SOFTWARE_DIR lacks', () => {
    const dir = makeTempDir('original-lookup');
    made.push(dir);
    writeFile(join(dir.path, 'device', 'sensor', 'src', 'app.py'));
    const lookup = OriginalSoftware.locate({ IOT_ORIGINAL_SOFTWARE_DIR: dir.path });
    expect(lookup).toEqual({ available: false, reason: expect.stringMatching(/lacks .*sensor[/\\]app\.conf.*mqtthandler[/\\]src[/\\]app\.py/) });
  });

  it('takes a complete folder from IOT_ORIGINAL_SOFTWARE_DIR, or says which Python is missing what', () => {
    const dir = makeTempDir('original-lookup');
    made.push(dir);
    for (const file of ['device/sensor/src/app.py', 'device/sensor/app.conf', 'device/mqtthandler/src/app.py', 'device/mqtthandler/app.conf']) writeFile(join(dir.path, file));
    const lookup = OriginalSoftware.locate({ IOT_ORIGINAL_SOFTWARE_DIR: dir.path, PATH: process.env.PATH });
    if (lookup.available) {
      expect(lookup.software.dir).toBe(dir.path);
      expect(lookup.software.mqtthandlerApp).toBe(join(dir.path, 'device', 'mqtthandler', 'src', 'app.py'));
      expect(lookup.software.pahoVersion).toMatch(/^1\./);
    } else {
      expect(lookup.reason).toMatch(/python3-redis python3-paho-mqtt/);
    }
  });
});

describe('the fake original device, offline', () => {
  const fake = () => new OriginalFakeDevice({ deviceId: 'd', broker: { port: 1 }, login: { username: 'd', password: 'p' } });

  it('numbers readings as XADD does: milliseconds, then a sequence within the same millisecond, never backwards', () => {
    const device = fake();
    expect([device.measure({ a: '1' }, 1000), device.measure({ a: '2' }, 1000), device.measure({ a: '3' }, 999), device.measure({ a: '4' }, 1001)]).toEqual([
      '1000-0',
      '1000-1',
      '1000-2',
      '1001-0',
    ]);
  });

  it('reads ranges as XRANGE does: inclusive ids, "(" exclusive, - and +, and a count', () => {
    const device = fake();
    for (const at of [10, 20, 30, 40]) device.measure({ v: String(at) }, at);
    const ids = (min?: string, max?: string, count?: number) => device.range(min, max, count).map((e) => e.id);
    expect(ids()).toEqual(['10-0', '20-0', '30-0', '40-0']);
    expect(ids('20-0', '30-0')).toEqual(['20-0', '30-0']);
    expect(ids('(20-0', '+')).toEqual(['30-0', '40-0']);
    expect(ids('-', '(30-0')).toEqual(['10-0', '20-0']);
    expect(ids('-', '+', 3)).toEqual(['10-0', '20-0', '30-0']);
  });

  it('sends nothing while not connected, and leaves its cursor where it was', () => {
    const device = fake();
    device.measure({ v: '1' });
    expect(device.sendBacklog()).toEqual([]);
    expect(device.cursor).toBeNull();
  });
});

function writeFile(path: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, '');
}
