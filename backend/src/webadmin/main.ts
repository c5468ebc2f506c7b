import type { AddressInfo } from 'node:net';
import { systemClock } from '@iot/common/clock';
import { topicSchemeFrom } from '@iot/common/config';
import { mqttConnection } from '@iot/common/mqtt-env';
import { runService } from '@iot/common/service';
import mqtt from 'mqtt';
import { DeviceControl } from '../control/device-control.ts';
import { describeDatabase, openDatabase } from '../db/index.ts';
import { createWebAdmin } from './app.ts';
import { buildClientAssets } from './client-assets.ts';
import { parseWebAdminConfig } from './config.ts';

await runService({
  name: 'webadmin',
  build: async (env, logger) => {
    const config = parseWebAdminConfig(env);
    const db = await openDatabase(config.DATABASE_URL, { logger: logger.child({ component: 'db' }) });
    logger.info({ event: 'database_open', database: describeDatabase(config.DATABASE_URL) }, 'database ready');
    if (config.WEBADMIN_ADMIN_USERNAME !== undefined && config.WEBADMIN_ADMIN_PASSWORD !== undefined) {
      // One write transaction checks that there is no user and inserts: a receiver writing the
      // same SQLite file meanwhile only makes it wait (busy timeout), never fail.
      const admin = await db.users.createFirstAdmin(config.WEBADMIN_ADMIN_USERNAME, config.WEBADMIN_ADMIN_PASSWORD);
      if (admin !== undefined) logger.info({ event: 'admin_created', username: admin.username }, 'first admin created');
    }
    const client = config.WEBADMIN_MQTT
      ? mqtt.connect({ ...mqttConnection(config), clientId: config.MQTT_CLIENT_ID, clean: true, reconnectPeriod: 1000 })
      : undefined;
    const control =
      client === undefined ? undefined : new DeviceControl({ db, mqtt: client, topics: topicSchemeFrom(config, 'webadmin'), clock: systemClock, logger });
    const assets = await buildClientAssets();
    const { app, live } = createWebAdmin({ db, control, clock: systemClock, logger, assets, secureCookies: config.WEBADMIN_SECURE_COOKIES });
    let server: ReturnType<typeof app.listen> | undefined;
    return {
      start: async () => {
        await new Promise<void>((resolve, reject) => {
          server = app.listen(config.WEBADMIN_PORT, config.WEBADMIN_HOST, (error?: Error) => (error === undefined ? resolve() : reject(error)));
        });
        const port = (server?.address() as AddressInfo | null)?.port;
        live.start();
        logger.info({ event: 'webadmin_listening', port }, 'web admin listening');
      },
      stop: async () => {
        const closed = new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
        // Open event streams never end by themselves; close() alone would wait for them forever.
        server?.closeAllConnections();
        await closed;
        await live.stop();
        await client?.endAsync();
        await db.close();
      },
    };
  },
});
