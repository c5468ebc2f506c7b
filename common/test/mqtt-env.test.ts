import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, parseEnv, z } from '../src/config/env-config.ts';
import { checkMqttEnv, mqttConnection, mqttEnv } from '../src/config/mqtt-env.ts';
import { probe } from '../src/service/probe.ts';

const schema = z.object(mqttEnv).superRefine(checkMqttEnv);
const dir = mkdtempSync(join(tmpdir(), 'mqtt-env-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    parseEnv('svc', schema, env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('MQTT_PASSWORD_FILE (compose secrets)', () => {
  it('reads the password from the file, without the trailing line break', () => {
    const file = join(dir, 'password');
    writeFileSync(file, 's3cret with spaces\n');
    const config = parseEnv('svc', schema, { MQTT_USERNAME: 'sim-1', MQTT_PASSWORD_FILE: file });
    expect(mqttConnection(config).password).toBe('s3cret with spaces');
  });

  it('refuses a missing or empty file, both variables at once, and a file without a username, all together', () => {
    const empty = join(dir, 'empty');
    writeFileSync(empty, '\n');
    expect(problemsOf({ MQTT_USERNAME: 'u', MQTT_PASSWORD_FILE: join(dir, 'absent') })).toEqual([expect.stringMatching(/MQTT_PASSWORD_FILE: cannot read .*absent: ENOENT/)]);
    expect(problemsOf({ MQTT_USERNAME: 'u', MQTT_PASSWORD_FILE: empty })).toEqual([expect.stringMatching(/MQTT_PASSWORD_FILE: .*empty is empty/)]);
    expect(problemsOf({ MQTT_USERNAME: 'u', MQTT_PASSWORD: 'p', MQTT_PASSWORD_FILE: empty })).toEqual([expect.stringMatching(/not both/)]);
    expect(problemsOf({ MQTT_PASSWORD_FILE: empty })).toEqual([expect.stringMatching(/empty is empty/), expect.stringMatching(/MQTT_USERNAME: MQTT_PASSWORD_FILE is set but MQTT_USERNAME is not/)]);
  });
});

describe('probe (container healthchecks)', () => {
  it('passes for an open TCP port and a 2xx answer, and names what failed otherwise', async () => {
    const tcp = createTcpServer((socket) => socket.end());
    const http = createServer((req, res) => {
      res.statusCode = req.url === '/health' ? 200 : 503;
      res.end('{}');
    });
    await Promise.all([new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r)), new Promise<void>((r) => http.listen(0, '127.0.0.1', r))]);
    const tcpPort = (tcp.address() as { port: number }).port;
    const httpPort = (http.address() as { port: number }).port;
    try {
      await expect(probe(`tcp://127.0.0.1:${tcpPort}`)).resolves.toBeUndefined();
      await expect(probe(`http://127.0.0.1:${httpPort}/health`)).resolves.toBeUndefined();
      await expect(probe(`http://127.0.0.1:${httpPort}/other`)).rejects.toThrow(/answered 503/);
    } finally {
      await Promise.all([new Promise((r) => tcp.close(r)), new Promise((r) => http.close(r))]);
    }
    await expect(probe(`tcp://127.0.0.1:${tcpPort}`)).rejects.toThrow(/cannot connect to tcp:\/\/127.0.0.1:\d+: connect ECONNREFUSED/);
  });
});
