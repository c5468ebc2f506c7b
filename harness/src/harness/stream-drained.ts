import { REDIS_KEY } from '@iot/common/protocol';

/**
 * Resolves once the uplink's cursor (`mqtt_sender:last_id`) points past the last entry of the
 * device's stream, that is, the backend confirmed everything the device holds (docs/delivery-guarantee.md §3).
 * `context` is added to the timeout error, e.g. the uplink's last log lines.
 */
export async function streamDrained(deviceId: string, redis: { host: string; port: number }, timeoutMs: number, context: () => string): Promise<void> {
  const admin = await import('ioredis').then((m) => new m.Redis({ host: redis.host, port: redis.port }));
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const [last] = (await admin.xrevrange(REDIS_KEY.values, '+', '-', 'COUNT', 1)) as [string, string[]][];
      const cursor = await admin.get(REDIS_KEY.senderLastId);
      if (last === undefined || cursor === `(${last[0]}`) return;
      if (Date.now() > deadline) throw new Error(`device ${deviceId}: stream ends at ${last[0]} but the cursor is ${cursor}\n${context()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    admin.disconnect();
  }
}
