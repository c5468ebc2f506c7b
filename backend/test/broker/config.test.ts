import { ConfigError, parseEnv, topicEnv, topicSchemeFrom, z } from '@iot/common/config';
import { describe, expect, it } from 'vitest';
import { maxPacketBytes, parseBrokerConfig } from '../../src/broker/config.ts';

function problemsOf(run: () => unknown): readonly string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('broker configuration', () => {
  it('defaults to port 1883 on all interfaces, 256 KiB payloads, no TLS, no WebSocket', () => {
    const config = parseBrokerConfig({ MQTT_CREDENTIALS_FILE: '/etc/mqtt/credentials.json' });
    expect(config).toMatchObject({ MQTT_HOST: '0.0.0.0', MQTT_PORT: 1883, MQTT_MAX_PAYLOAD_BYTES: 262_144, MQTT_ALLOW_ANONYMOUS: false });
    expect(config.MQTT_TLS_CERTFILE).toBeUndefined();
    expect(config.MQTT_WS_PORT).toBeUndefined();
  });

  it('requires a credential file unless anonymous access is switched on', () => {
    expect(problemsOf(() => parseBrokerConfig({}))).toEqual([expect.stringMatching(/^MQTT_CREDENTIALS_FILE: is required/)]);
    expect(parseBrokerConfig({ MQTT_ALLOW_ANONYMOUS: 'true' }).MQTT_ALLOW_ANONYMOUS).toBe(true);
  });

  it('reports TLS files given alone, clashing ports and bad numbers together', () => {
    const problems = problemsOf(() =>
      parseBrokerConfig({ MQTT_CREDENTIALS_FILE: 'c.json', MQTT_TLS_CERTFILE: 'cert.pem', MQTT_WS_PORT: '1883', MQTT_MAX_PAYLOAD_BYTES: '0' }),
    );
    expect(problems).toHaveLength(3);
    expect(problems).toContainEqual(expect.stringMatching(/^MQTT_MAX_PAYLOAD_BYTES: must be at least 1/));
    expect(problems).toContainEqual(expect.stringMatching(/^MQTT_TLS_CERTFILE: MQTT_TLS_CERTFILE and MQTT_TLS_KEYFILE must be set together/));
    expect(problems).toContainEqual('MQTT_WS_PORT: must differ from MQTT_PORT (both 1883) (got "1883")');
  });

  it('allows room for a PUBLISH header beyond the payload limit in the packet limit', () => {
    // 1024 payload + 65,535 topic + 2 topic length + 2 packet id + 4096 for properties.
    expect(maxPacketBytes(1024)).toBe(70_659);
    expect(maxPacketBytes(268_435_455)).toBe(268_435_455);
  });
});

describe('topic templates from env', () => {
  const schema = z.object(topicEnv);

  it('defaults to the original topics and reads the original env names', () => {
    const topics = topicSchemeFrom(parseEnv('t', schema, { MQTT_TOPIC_REQUEST: 'fleet/{device_uuid}/cmd' }));
    expect(topics.topic('request', 'dev-1')).toBe('fleet/dev-1/cmd');
    expect(topics.topic('values', 'dev-1')).toBe('iot-projekt/device/dev-1/values');
    expect(topics.templates.broadcast).toBe('iot-projekt/device/broadcast/control');
  });

  it('reports wildcards, missing placeholders and whitespace per variable', () => {
    const problems = problemsOf(() =>
      parseEnv('t', schema, { MQTT_TOPIC_READINGS: 'a/+/{device_uuid}', MQTT_TOPIC_ACK: 'acks', MQTT_TOPIC_STATUS: 'x/{device_uuid}/st atus' }),
    );
    expect(problems).toEqual([
      'MQTT_TOPIC_READINGS: readings topic "a/+/{device_uuid}" must not contain MQTT wildcards (got "a/+/{device_uuid}")',
      'MQTT_TOPIC_ACK: ack topic "acks" must contain {device_uuid} exactly once (got "acks")',
      'MQTT_TOPIC_STATUS: status topic "x/{device_uuid}/st atus" must not contain whitespace (got "x/{device_uuid}/st atus")',
    ]);
  });

  it('refuses two channels sharing a template', () => {
    const config = parseEnv('t', schema, { MQTT_TOPIC_ACK: 'iot-projekt/device/{device_uuid}/request' });
    expect(problemsOf(() => topicSchemeFrom(config))).toEqual(['MQTT_TOPIC_REQUEST and MQTT_TOPIC_ACK must differ (both are "iot-projekt/device/{device_uuid}/request")']);
  });
});
