import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { promisify } from 'node:util';
import { MariaDbServer, makeTempDir } from '@iot/harness/processes';
import { createConnection } from 'mysql2/promise';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

describe('MariaDbServer', () => {
  it('initialises one template per temp dir even when two processes race for it', async () => {
    const temp = makeTempDir('template-race');
    try {
      const script = "import { templateDataDir } from '@iot/harness/processes'; console.log(templateDataDir());";
      const race = () => run(process.execPath, ['--input-type=module', '-e', script], { cwd: import.meta.dirname, env: { ...process.env, TMPDIR: temp.path } });
      const [a, b] = await Promise.all([race(), race()]);
      expect(a.stdout.trim()).toBe(b.stdout.trim());
      const entries = readdirSync(temp.path);
      // Exactly the template: no half-initialised copies left behind under temp names.
      expect(entries).toHaveLength(1);
      expect(entries[0]).toMatch(/^iot-mariadb-template-/);
      expect(readdirSync(a.stdout.trim())).toContain('mysql');
    } finally {
      temp.remove();
    }
  });

  it('serves its database on a free loopback port and removes its directory on dispose', async () => {
    const server = new MariaDbServer({ database: 'plant' });
    try {
      await server.start();
      expect(server.port).not.toBe(3306);
      expect(server.url).toBe(`mariadb://root@127.0.0.1:${server.port}/plant`);
      const connection = await createConnection({ host: server.host, port: server.port, user: 'root', database: 'plant' });
      const [rows] = await connection.query('SELECT DATABASE() AS db, @@character_set_database AS charset');
      await connection.end();
      expect(rows).toEqual([{ db: 'plant', charset: 'utf8mb4' }]);
    } finally {
      await server.dispose();
    }
    expect(existsSync(server.dir)).toBe(false);
    expect(server.running).toBe(false);
  });
});
