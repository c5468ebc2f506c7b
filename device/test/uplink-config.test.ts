import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '@iot/common/config';
import { mqttConnection } from '@iot/common/mqtt-env';
import { EXIT_CONFIG } from '@iot/common/service';
import { parseUplinkConfig, uplinkTopics } from '../src/uplink/index.ts';
import { makeTempDir, startServiceProcess } from '@iot/harness/processes';
import { afterAll, describe, expect, it } from 'vitest';

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    parseUplinkConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('uplink configuration', () => {
  const dir = makeTempDir('uplink-config');
  afterAll(() => dir.remove());

  it('has the original defaults and never a public broker', () => {
    const config = parseUplinkConfig({ BALENA_DEVICE_UUID: 'abc123' });
    expect(config).toMatchObject({
      MQTT_HOST: 'localhost',
      MQTT_KEEPALIVE_SECONDS: 60,
      MQTT_PROTOCOL_VERSION: 4,
      HARDWARE: 'pi',
      UPLINK_BATCH_MAX_COUNT: 500,
      UPLINK_BATCH_MAX_BYTES: 131_072,
      UPLINK_ACK_TIMEOUT_SECONDS: 10,
      UPLINK_HISTORY: 10_000,
      UPLINK_STATUS_SECONDS: 30,
    });
    expect(mqttConnection(config)).toMatchObject({ host: 'localhost', port: 1883, protocol: 'mqtt', keepalive: 60 });
    expect(uplinkTopics(config).topic('readings', 'abc123')).toBe('iot-projekt/device/abc123/readings');
  });

  it('turns TLS on with port 8883 when a CA file is given', () => {
    const ca = join(dir.path, 'ca.pem');
    writeFileSync(ca, 'not really a certificate');
    const connection = mqttConnection(parseUplinkConfig({ BALENA_DEVICE_UUID: 'abc123', MQTT_TLS_CA_CERTS: ca }));
    expect(connection).toMatchObject({ protocol: 'mqtts', port: 8883, rejectUnauthorized: true, ca: Buffer.from('not really a certificate') });
  });

  it('requires a valid device id', () => {
    expect(problemsOf({})).toEqual(['BALENA_DEVICE_UUID: is required: the device id under which readings are sent (balena sets it)']);
    expect(problemsOf({ BALENA_DEVICE_UUID: 'a/b' })).toEqual([expect.stringMatching(/^BALENA_DEVICE_UUID: must be 1–64 of/)]);
    expect(problemsOf({ BALENA_DEVICE_UUID: 'broadcast' })).toHaveLength(1);
  });

  it('reports every problem at once: TLS files and pairs, limits, topics', () => {
    const problems = problemsOf({
      BALENA_DEVICE_UUID: 'abc123',
      MQTT_TLS_CERTFILE: join(dir.path, 'missing.pem'),
      MQTT_PORT: '99999',
      UPLINK_BATCH_MAX_BYTES: String(512 * 1024),
      MQTT_TOPIC_VALUES: 'x/{device_uuid}/v',
      MQTT_TOPIC_READINGS: 'x/{device_uuid}/v',
    });
    expect(problems).toEqual([
      'MQTT_PORT: must be at most 65535 (got "99999")',
      'UPLINK_BATCH_MAX_BYTES: must be at most 262144 (got "524288")',
      expect.stringMatching(/^MQTT_TLS_CERTFILE: a client certificate needs its key/),
      expect.stringMatching(/^MQTT_TLS_CERTFILE: cannot read .*missing\.pem: ENOENT/),
      'MQTT_TOPIC_VALUES and MQTT_TOPIC_READINGS must differ (both are "x/{device_uuid}/v")',
    ]);
  });

  it('the mqtthandler process prints the problems for a person and exits with EX_CONFIG', async () => {
    const uplink = startServiceProcess('mqtthandler', { BALENA_DEVICE_UUID: 'a b', MQTT_TLS_KEYFILE: '/nonexistent/key.pem' });
    expect((await uplink.exited).code).toBe(EXIT_CONFIG);
    const stderr = uplink.stderrLines.join('\n');
    expect(stderr).toContain('mqtthandler: invalid configuration');
    expect(stderr).toMatch(/BALENA_DEVICE_UUID: must be 1–64/);
    expect(stderr).toMatch(/MQTT_TLS_KEYFILE: cannot read \/nonexistent\/key.pem: ENOENT/);
    expect(stderr).not.toMatch(/\n\s+at /);
  });
});
