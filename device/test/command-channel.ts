import { type CommandResponse, commandResponse, TopicScheme } from '@iot/common/protocol';
import { eventually, ManualClock } from '@iot/harness/testing';
import { beforeEach, expect } from 'vitest';
import { type RedisAndBroker, useRedisAndBroker } from './redis-and-broker.ts';
import { DEVICE, type RunningUplink } from './uplink-fixtures.ts';

/** The device's time in the command tests: a ManualClock that stands still unless a test moves it. */
export const NOW = Date.UTC(2024, 0, 15, 12, 0, 0); // 1705320000000

interface CommandChannel {
  readonly bed: RedisAndBroker;
  /** The uplink of the current test, wired as main.ts wires it, on {@link clock}. */
  readonly uplink: RunningUplink;
  readonly clock: ManualClock;
  /** The device's response topic. */
  readonly responseTopic: string;
  /**
   * Publishes `command` on the device's request topic, as the backend does, and resolves with the
   * answer the device published on its response topic (checked to be a valid v1 response). The
   * uplink handles commands one at a time in arrival order, so the next answer is this one's.
   */
  send(command: unknown): Promise<CommandResponse>;
  /** What the simulated reboot does in the current test, after being counted; may throw. */
  onReboot: (() => void) | undefined;
}

/**
 * Commands as they reach a device in production: the uplink (createUplink, as main.ts wires it)
 * against a real Redis and broker, a command published on its request topic, its answer read on
 * the response topic. Each test gets a fresh uplink on a {@link ManualClock} at {@link NOW}, so
 * expiry is exact.
 */
export function useCommandChannel(): CommandChannel {
  const bed = useRedisAndBroker({ backend: true });
  let uplink: RunningUplink | undefined;
  let clock = new ManualClock(NOW);
  const channel: CommandChannel = {
    bed,
    get uplink() {
      if (uplink === undefined) throw new Error('the uplink starts in beforeEach');
      return uplink;
    },
    get clock() {
      return clock;
    },
    responseTopic: new TopicScheme().topic('response', DEVICE),
    async send(command) {
      const before = bed.backend.responses.length;
      await bed.backend.publish('request', DEVICE, command);
      const answer = await eventually(() => bed.backend.responses[before], 10_000, `the answer to ${JSON.stringify(command)}`);
      expect(commandResponse.safeParse(answer).success, JSON.stringify(answer)).toBe(true);
      return answer as CommandResponse;
    },
    onReboot: undefined,
  };
  beforeEach(async () => {
    await bed.backend.clearRetained(DEVICE);
    channel.onReboot = undefined;
    clock = new ManualClock(NOW);
    uplink = await bed.startUplink(
      // How the original stamps readings (send_measurements); the ack timeout lies beyond any time a test moves the clock.
      { BALENA_DEVICE_TYPE: 'raspberrypi4-64', BALENA_APP_ID: '42', BALENA_APP_NAME: 'iot-projekt', UPLINK_ACK_TIMEOUT_SECONDS: '60' },
      { clock, onReboot: () => channel.onReboot?.() },
    );
    // Online means subscribed: the status goes out once the subscriptions are granted.
    await eventually(() => bed.backend.statuses.find((s) => s.online), 10_000, 'the uplink online');
  });
  return channel;
}
