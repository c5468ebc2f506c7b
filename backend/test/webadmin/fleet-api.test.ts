import { makeTempDir, MariaDbServer } from '@iot/harness/processes';
import { afterAll } from 'vitest';
import { type Database, openDatabase, parseDatabaseUrl } from '../../src/db/index.ts';
import { describeFleetApiSuite } from './fleet-api-suite.ts';

const dir = makeTempDir('webadmin-fleet-api');
const mariadb = new MariaDbServer();
afterAll(async () => {
  await mariadb.dispose();
  dir.remove();
});

describeFleetApiSuite('SQLite', () => openDatabase({ kind: 'sqlite', path: `${dir.path}/fleet.sqlite` }));

let started: Promise<unknown> | undefined;
describeFleetApiSuite(
  'MariaDB',
  async () => {
    started ??= mariadb.start();
    await started;
    return openDatabase(parseDatabaseUrl(await mariadb.createDatabase('fleet_api')), { migrate: true });
  },
  // SELECT statements the server ran (every connection): no other client uses this server.
  async (db: Database) => Number(((await db.dataSource.query("SHOW GLOBAL STATUS LIKE 'Com_select'")) as Array<{ Value: string }>)[0]?.Value),
);
