import { EXIT_CONFIG } from '@iot/common/service';
import { startServiceProcess } from '@iot/harness/processes';
import { describe, expect, it } from 'vitest';

/** Configuration mistakes, as a person makes them: the process says what is wrong and exits. */
describe('service start-up with bad configuration', () => {
  it('the sensor reports every problem at once, without a stack trace, and exits non-zero', async () => {
    const sensor = startServiceProcess('sensor', {
      HARDWARE: 'laptop',
      REDIS_PORT: '99999',
      INTERVAL_SECONDS: 'often',
      SENSORS: 'bme280@0x76,dht22',
    });
    const exit = await sensor.exited;
    expect(exit.code).toBe(EXIT_CONFIG);
    const stderr = sensor.stderrLines.join('\n');
    expect(stderr).toContain('sensor: invalid configuration');
    expect(stderr).toMatch(/HARDWARE: must be one of pi, sim, remote \(got "laptop"\)/);
    expect(stderr).toMatch(/REDIS_PORT: must be at most 65535/);
    expect(stderr).toMatch(/INTERVAL_SECONDS: must be a number/);
    expect(stderr).toMatch(/SENSORS: "dht22": unknown chip "dht22"; known: bme280, sht31/);
    expect(stderr).not.toMatch(/\n\s+at /);
    // The same problems as one structured log line, for log collectors.
    const fatal = sensor.logs().find((r) => r.level === 'fatal');
    expect(fatal?.problems).toHaveLength(4);
  });

  it('the button refuses a pin that is SDA of the I2C bus the sensors use', async () => {
    const button = startServiceProcess('startstopbutton', { HARDWARE: 'sim', BUTTON_PIN: '2', SENSORS: 'bme280@0x76' });
    const exit = await button.exited;
    expect(exit.code).toBe(EXIT_CONFIG);
    expect(button.stderrLines.join('\n')).toContain(
      'BUTTON_PIN: GPIO 2 is SDA of I2C bus 1, which the sensors (bme280@0x76) use; wire the button to a free pin such as 17',
    );
  });

  it('the button also refuses SCL, and accepts pin 2 when no sensor uses the bus', async () => {
    const scl = startServiceProcess('startstopbutton', { HARDWARE: 'sim', BUTTON_PIN: '3' });
    expect((await scl.exited).code).toBe(EXIT_CONFIG);
    expect(scl.stderrLines.join('\n')).toContain('GPIO 3 is SCL of I2C bus 1');

    const free = startServiceProcess('startstopbutton', { HARDWARE: 'sim', BUTTON_PIN: '2', SENSORS: 'none', REDIS_PORT: '1' });
    await free.waitForLog((r) => r.event === 'button_ready', 10_000, 'the button service to start');
    await free.stop();
  });

  it('the all-in-one device process checks both services\' settings together', async () => {
    const device = startServiceProcess('device-all-in-one', { HARDWARE: 'sim', BUTTON_PIN: '2', BUTTON_EVENT: 'sideways' });
    expect((await device.exited).code).toBe(EXIT_CONFIG);
    const stderr = device.stderrLines.join('\n');
    expect(stderr).toContain('BUTTON_EVENT: must be one of RISING, FALLING, BOTH');
  });
});
