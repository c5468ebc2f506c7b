import { systemClock } from '@iot/common/clock';
import { silentLogger } from '@iot/common/log';
import { TopicScheme } from '@iot/common/protocol';
import { BackendStack } from '@iot/harness';
import { eventually } from '@iot/harness/testing';
import mqtt, { type MqttClient } from 'mqtt';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceControl } from '../../src/control/device-control.ts';
import type { Database } from '../../src/db/index.ts';
import { BrowserSession, chromiumAvailable, launchChromium } from './browser-harness.ts';

const topics = new TopicScheme();

/**
 * The device page of an original device in Chromium: a reboot answer reads "received; outcome not
 * reported", never ok, and the broadcasts the device answered are listed with its answer
 * (docs/original-devices.md §3).
 */
describe.skipIf(!chromiumAvailable())('web admin: answers whose outcome is not reported, and broadcast answers', () => {
  const stack = new BackendStack({ deviceIds: ['old-1'] });
  let db: Database;
  let browser: Browser;
  let session: BrowserSession;
  let device: MqttClient;
  let operator: MqttClient;
  let control: DeviceControl;

  beforeAll(async () => {
    await stack.start();
    await stack.startReceiver();
    const web = await stack.startWebAdmin();
    db = await stack.database();
    device = await mqtt.connectAsync({ host: '127.0.0.1', port: stack.brokerPort, ...stack.login('old-1'), clientId: '', clean: true, protocolVersion: 4, reconnectPeriod: 0 });
    await device.subscribeAsync([topics.topic('request', 'old-1'), topics.topic('broadcast', 'old-1')], { qos: 0 });
    // As the original: every command echoed at QoS 0, get_config with the value it read.
    device.on('message', (_topic, payload) => {
      const command = JSON.parse(payload.toString()) as Record<string, unknown>;
      const answer = command.command === 'get_config' ? { ...command, value: '10' } : command;
      void device.publishAsync(topics.topic('response', 'old-1'), JSON.stringify(answer), { qos: 0 });
    });
    await device.publishAsync(topics.topic('values', 'old-1'), JSON.stringify([{ _id: '1700000000000-0', temperature_celsius: '20.5' }]), { qos: 1 });
    await eventually(async () => (await db.devices.getDevice('old-1'))?.protocol === 'original', 10_000, 'old-1 known as an original device');
    operator = await mqtt.connectAsync({ host: '127.0.0.1', port: stack.brokerPort, ...stack.login('operator'), clientId: 'operator-browser-test' });
    control = new DeviceControl({ db, mqtt: operator, topics, clock: systemClock, logger: silentLogger() });
    browser = await launchChromium();
    session = await BrowserSession.open(browser, web.url);
    await session.login(web.admin.username, web.admin.password);
  }, 90_000);
  afterAll(async () => {
    await session?.context.close();
    await browser?.close();
    await device?.endAsync();
    await operator?.endAsync();
    await stack.dispose();
  });

  it('shows the reboot as received with no outcome, and the broadcast the device answered', async () => {
    const reboot = await control.sendCommand('old-1', { command: 'reboot' });
    const broadcast = await control.sendBroadcast({ command: 'get_config', key: 'measurement:interval' });
    await eventually(async () => (await db.commands.get(reboot))?.state === 'answered', 10_000, 'the reboot answer');
    await eventually(async () => (await db.commands.broadcasts.answers(broadcast)).length === 1, 10_000, 'the broadcast answer');

    const { page } = session;
    await page.goto('/devices/old-1');
    const result = page.locator(`[data-testid="command-row"][data-command-id="${reboot}"] [data-testid="command-result"]`);
    await result.waitFor();
    expect(await result.getAttribute('data-result')).toBe('not-reported');
    expect(await result.textContent()).toBe('received; outcome not reported');
    const row = page.locator(`[data-testid="broadcast-answer-row"][data-broadcast-id="${broadcast}"]`);
    await row.waitFor();
    expect(await row.locator('[data-testid="command-result"]').getAttribute('data-result')).toBe('ok');
    expect(await row.textContent()).toContain('"value":"10"');
    expect(session.pageErrors).toEqual([]);
    expect(session.consoleErrors.filter((e) => /Content Security Policy|Refused to/i.test(e))).toEqual([]);
  });
});
