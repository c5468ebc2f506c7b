import { hostname } from 'node:os';
import { systemClock } from '@iot/common/clock';
import { topicSchemeFrom } from '@iot/common/config';
import { mqttConnection } from '@iot/common/mqtt-env';
import { runService } from '@iot/common/service';
import mqtt from 'mqtt';
import { describeDatabase, openDatabase } from '../db/index.ts';
import { RollupRefresher } from '../rollups/rollup-refresher.ts';
import { groupCommitFromConfig, parseReceiverConfig } from './config.ts';
import { databaseIngestStore } from './database-ingest-store.ts';
import { startHealthServer } from './health-server.ts';
import { limitsFromConfig } from './limits.ts';
import { ReceiverMetrics } from './metrics.ts';
import { Receiver } from './receiver.ts';

await runService({
  name: 'receiver',
  build: async (env, logger) => {
    const config = parseReceiverConfig(env);
    const topics = topicSchemeFrom(config, 'receiver');
    const databaseConfig = config.DATABASE_URL;
    // The database must be reachable at start: migrations run here, and a receiver that cannot
    // store anything should fail visibly rather than connect to the broker and drop batches.
    const db = await openDatabase(databaseConfig, { logger: logger.child({ component: 'db' }) });
    logger.info({ event: 'database_open', database: describeDatabase(databaseConfig) }, 'database ready');
    const metrics = new ReceiverMetrics();
    const receiver = new Receiver({
      connect: () =>
        mqtt.connect({
          ...mqttConnection(config),
          clientId: config.MQTT_CLIENT_ID,
          protocolVersion: Number(config.MQTT_PROTOCOL_VERSION) as 4 | 5,
          // A persistent session: the broker queues QoS 1 messages while this receiver is away.
          clean: false,
          ...(config.MQTT_PROTOCOL_VERSION === '5' ? { properties: { sessionExpiryInterval: 24 * 3600 } } : {}),
          reconnectPeriod: 1000,
        }),
      store: databaseIngestStore(db),
      topics,
      logger,
      clock: systemClock,
      maxPayloadBytes: config.RECEIVER_MAX_PAYLOAD_BYTES,
      maxOriginalPayloadBytes: config.RECEIVER_MAX_ORIGINAL_PAYLOAD_BYTES,
      sharedGroup: config.RECEIVER_SHARED_GROUP,
      maxConcurrent: config.RECEIVER_MAX_CONCURRENT,
      maxInFlightBytes: config.RECEIVER_MAX_IN_FLIGHT_BYTES,
      groupCommit: groupCommitFromConfig(config),
      metrics,
      limits: limitsFromConfig(config),
    });
    // Beside the receiver, so rollups catch up wherever readings are stored, web admin or not.
    const refresher = config.RECEIVER_ROLLUPS
      ? new RollupRefresher({
          rollups: db.rollups,
          leases: db.leases,
          clock: systemClock,
          logger: logger.child({ component: 'rollups' }),
          leaseMs: config.RECEIVER_ROLLUP_LEASE_SECONDS * 1000,
        })
      : undefined;
    const health =
      config.RECEIVER_HEALTH_PORT === 0
        ? undefined
        : await startHealthServer({
            port: config.RECEIVER_HEALTH_PORT,
            logger,
            // Whether this receiver refreshes the rollups now: informative, never a reason to be unhealthy.
            health: () => ({ ...receiver.health(), receiver: hostname(), rollups: refresher === undefined ? 'off' : refresher.holding ? 'refreshing' : 'standby' }),
            metrics: () => metrics.render(),
          });
    return {
      start: async () => {
        await receiver.start();
        refresher?.start();
      },
      stop: async () => {
        // First, so another receiver can take the lease over while this one finishes its messages.
        await refresher?.stop();
        await receiver.stop();
        health?.close();
        await db.close();
      },
    };
  },
});
