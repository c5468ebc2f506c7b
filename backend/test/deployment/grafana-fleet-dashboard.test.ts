import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MariaDbServer } from '@iot/harness/processes';
import { createConnection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { openDatabase, parseDatabaseUrl } from '../../src/db/index.ts';

/**
 * Grafana's image cannot be pulled or built here, so the backend's Grafana (docker-compose.yml,
 * profile `grafana`) is checked by what can be run: its provisioning parses, every data source a
 * panel uses is provisioned, and every panel's SQL runs against a migrated MariaDB with the
 * read-only account the initdb script makes.
 */
const grafana = fileURLToPath(new URL('../../../docker/grafana', import.meta.url));
const initdb = fileURLToPath(new URL('../../../docker/mariadb/initdb', import.meta.url));

interface Target {
  datasource?: { uid?: string };
  rawSql?: string;
  format?: string;
}
interface Panel {
  title: string;
  datasource?: { uid?: string };
  targets?: Target[];
}

const datasources = readdirSync(join(grafana, 'provisioning/datasources')).flatMap(
  (file) => (parseYaml(readFileSync(join(grafana, 'provisioning/datasources', file), 'utf8')) as { datasources: { uid: string; type: string; user?: string; jsonData?: { database?: string } }[] }).datasources,
);
const dashboards = readdirSync(join(grafana, 'dashboards')).map((file) => ({ file, json: JSON.parse(readFileSync(join(grafana, 'dashboards', file), 'utf8')) as { uid: string; panels: Panel[] } }));
const panels = dashboards.flatMap((d) => d.json.panels.map((panel) => ({ dashboard: d.file, panel })));

/** Grafana's MySQL macros the dashboards use, replaced the way Grafana expands them for the last hour. */
function expandMacros(sql: string): string {
  const expanded = sql.replaceAll('$__unixEpochFrom()', '(UNIX_TIMESTAMP() - 3600)').replaceAll('$__unixEpochTo()', 'UNIX_TIMESTAMP()');
  const unknown = expanded.match(/\$__\w+/);
  if (unknown !== null) throw new Error(`macro ${unknown[0]} is not expanded by this test: add it to expandMacros`);
  return expanded;
}

describe('backend Grafana provisioning', () => {
  it('parses, and every panel names a provisioned data source', () => {
    const uids = new Set(datasources.map((d) => d.uid));
    expect(uids.size).toBe(datasources.length);
    expect(panels.length).toBeGreaterThan(0);
    for (const { dashboard, panel } of panels) {
      for (const target of panel.targets ?? []) {
        const uid = target.datasource?.uid ?? panel.datasource?.uid;
        expect(uids.has(uid ?? ''), `${dashboard}: panel "${panel.title}" uses data source ${uid}`).toBe(true);
        expect(target.rawSql, `${dashboard}: panel "${panel.title}" has no SQL`).toBeTruthy();
      }
    }
    const dashboardProviders = readdirSync(join(grafana, 'provisioning/dashboards')).map((f) => parseYaml(readFileSync(join(grafana, 'provisioning/dashboards', f), 'utf8')));
    expect(dashboardProviders.flatMap((p) => p.providers.map((provider: { options: { path: string } }) => provider.options.path))).toEqual(['/var/lib/grafana-dashboards']);
  });

  describe('against a migrated MariaDB', () => {
    const server = new MariaDbServer();
    let url: string;
    beforeAll(async () => {
      await server.start();
      url = await server.createDatabase('iot');
      const db = await openDatabase(parseDatabaseUrl(url));
      await db.close();
      // The read-only account, made by the same SQL the initdb script runs.
      const script = readFileSync(join(initdb, '10-grafana-reader.sh'), 'utf8');
      // The here-document's shell expansions, done as bash would with these values.
      const shellVar = (name: string) => ['$', '{', name, '}'].join('');
      const sql = script
        .slice(script.indexOf('<<SQL') + 5, script.indexOf('\nSQL'))
        .replaceAll(shellVar('password'), 'reader-password')
        .replaceAll(`\\\`${shellVar('MARIADB_DATABASE:-iot')}\\\``, '`iot`');
      const root = await createConnection({ host: server.host, port: server.port, user: 'root', multipleStatements: true });
      await root.query(sql);
      await root.end();
    });
    afterAll(() => server.dispose());

    it.each(panels.map(({ dashboard, panel }) => [`${dashboard}: ${panel.title}`, panel] as const))('%s runs as the read-only grafana account', async (_name, panel) => {
      const reader = await createConnection({ host: server.host, port: server.port, user: 'grafana', password: 'reader-password', database: datasources[0]!.jsonData!.database! });
      try {
        for (const target of panel.targets ?? []) {
          await expect(reader.query(expandMacros(target.rawSql!))).resolves.toBeDefined();
        }
        // Read-only: the account cannot change what the dashboard shows.
        await expect(reader.query("UPDATE devices SET name = 'x'")).rejects.toThrow(/denied/);
      } finally {
        await reader.end();
      }
    });
  });
});
