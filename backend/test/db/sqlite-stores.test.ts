import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { describeIntegritySuite } from './integrity-suite.ts';
import { describeRefresherSuite } from './rollup-refresher-suite.ts';
import { describeRollupSuite } from './rollup-suite.ts';
import { describeUserMigrationSuite } from './user-migration-suite.ts';
import { describeStoreSuite } from './store-suite.ts';

const dir = mkdtempSync(join(tmpdir(), 'iot-sqlite-'));
let count = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeStoreSuite('SQLite', async () => ({ kind: 'sqlite', path: join(dir, `db-${++count}.sqlite`) }));
describeRollupSuite('SQLite', async () => ({ kind: 'sqlite', path: join(dir, `db-${++count}.sqlite`) }));
describeIntegritySuite('SQLite', async () => ({ kind: 'sqlite', path: join(dir, `db-${++count}.sqlite`) }));
describeRefresherSuite('SQLite', async () => ({ kind: 'sqlite', path: join(dir, `db-${++count}.sqlite`) }), false);
describeUserMigrationSuite('SQLite', async () => ({ kind: 'sqlite', path: join(dir, `db-${++count}.sqlite`) }));
