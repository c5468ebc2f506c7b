import { MariaDbServer, makeTempDir } from '@iot/harness/processes';
import { afterAll, beforeAll } from 'vitest';
import { parseDatabaseUrl } from '../../src/db/index.ts';
import { describeLoginLimits } from './login-limit-suite.ts';

const dir = makeTempDir('login-limit');
const server = new MariaDbServer();
beforeAll(() => server.start(), 90_000);
afterAll(async () => {
  await server.dispose();
  dir.remove();
});

describeLoginLimits('SQLite', async () => ({ kind: 'sqlite', path: `${dir.path}/db.sqlite` }));
describeLoginLimits('MariaDB', async () => parseDatabaseUrl(await server.createDatabase('login_limit')));
