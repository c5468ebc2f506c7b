import { readFileSync } from 'node:fs';
import { ConfigError, topicSchemeFrom } from '@iot/common/config';
import { runService } from '@iot/common/service';
import { BrokerService } from './broker-service.ts';
import { maxPacketBytes, parseBrokerConfig } from './config.ts';
import { CredentialSet, loadCredentials } from './credentials.ts';
import { BrokerPolicy } from './policy.ts';

await runService({
  name: 'mqttserver',
  build: async (env, logger) => {
    const config = parseBrokerConfig(env);
    const topics = topicSchemeFrom(config, 'mqttserver');
    const credentials = config.MQTT_CREDENTIALS_FILE === undefined ? new CredentialSet([]) : loadCredentials(config.MQTT_CREDENTIALS_FILE, 'mqttserver');
    const policy = new BrokerPolicy({
      credentials,
      topics,
      maxPayloadBytes: config.MQTT_MAX_PAYLOAD_BYTES,
      maxOriginalPayloadBytes: config.MQTT_MAX_ORIGINAL_PAYLOAD_BYTES,
      allowAnonymous: config.MQTT_ALLOW_ANONYMOUS,
    });
    logger.info({ event: 'credentials_loaded', file: config.MQTT_CREDENTIALS_FILE, users: credentials.users.length }, 'credentials loaded');
    return new BrokerService({
      policy,
      logger,
      maxPacketBytes: maxPacketBytes(policy.largestPayloadBytes),
      sessionQueueLimit: config.MQTT_SESSION_QUEUE_LIMIT,
      login: { limits: { burst: config.MQTT_AUTH_FAILURE_BURST, refillMs: config.MQTT_AUTH_FAILURE_REFILL_SECONDS * 1000 } },
      listen: {
        host: config.MQTT_HOST,
        port: config.MQTT_PORT,
        ...(config.MQTT_TLS_CERTFILE !== undefined && config.MQTT_TLS_KEYFILE !== undefined
          ? { tls: { port: config.MQTT_TLS_PORT, ...readTlsFiles(config.MQTT_TLS_CERTFILE, config.MQTT_TLS_KEYFILE) } }
          : {}),
        ...(config.MQTT_WS_PORT === undefined ? {} : { wsPort: config.MQTT_WS_PORT }),
      },
    });
  },
});

/** Reads the TLS files at start-up so a wrong path is a configuration error, not a crash. */
function readTlsFiles(certFile: string, keyFile: string): { cert: Buffer; key: Buffer } {
  const problems: string[] = [];
  const read = (name: string, path: string) => {
    try {
      return readFileSync(path);
    } catch (error) {
      problems.push(`${name}: cannot read ${path} (${(error as Error).message})`);
      return Buffer.alloc(0);
    }
  };
  const files = { cert: read('MQTT_TLS_CERTFILE', certFile), key: read('MQTT_TLS_KEYFILE', keyFile) };
  if (problems.length > 0) throw new ConfigError('mqttserver', problems);
  return files;
}
