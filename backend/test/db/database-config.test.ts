import { ConfigError } from '@iot/common/config';
import { describe, expect, it } from 'vitest';
import { DEFAULT_TIMEOUTS, databaseConfigFromEnv, describeDatabase, parseDatabaseUrl } from '../../src/db/index.ts';

describe('DATABASE_URL', () => {
  it('selects MariaDB for mariadb:// and mysql:// URLs, decoding credentials', () => {
    expect(parseDatabaseUrl('mariadb://iot:s%40cret@db.example:3307/iot_prod')).toEqual({
      kind: 'mariadb',
      host: 'db.example',
      port: 3307,
      user: 'iot',
      password: 's@cret',
      database: 'iot_prod',
      poolSize: 5,
      ...DEFAULT_TIMEOUTS,
    });
    expect(parseDatabaseUrl('mysql://root@127.0.0.1/iot')).toMatchObject({ kind: 'mariadb', host: '127.0.0.1', port: 3306, user: 'root', password: '' });
  });

  it('selects SQLite for sqlite: URLs and, when unset, the embedded file under ./data', () => {
    expect(parseDatabaseUrl('sqlite:/var/lib/iot/iot.sqlite')).toEqual({ kind: 'sqlite', path: '/var/lib/iot/iot.sqlite' });
    expect(parseDatabaseUrl('sqlite::memory:')).toEqual({ kind: 'sqlite', path: ':memory:' });
    expect(databaseConfigFromEnv({}, '/srv/app')).toEqual({ kind: 'sqlite', path: '/srv/app/data/iot.sqlite' });
    expect(databaseConfigFromEnv({ DATABASE_URL: '  ' }, '/srv/app')).toEqual({ kind: 'sqlite', path: '/srv/app/data/iot.sqlite' });
  });

  it.each([
    ['postgres://u@h/db', /unsupported scheme/],
    ['sqlite:relative.sqlite', /absolute path/],
    ['mariadb://u@h', /database name is missing/],
    ['mariadb://h:3306/db', /user is missing/],
  ])('rejects %s with a ConfigError', (url, message) => {
    let caught: unknown;
    try {
      parseDatabaseUrl(url);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).problems[0]).toMatch(/^DATABASE_URL: /);
    expect((caught as ConfigError).message).toMatch(message);
  });

  it('never repeats a password in errors or descriptions', () => {
    expect(() => parseDatabaseUrl('mariadb://iot:hunter2@host')).toThrow(/iot:\*\*\*@host/);
    expect(() => parseDatabaseUrl('mariadb://iot:hunter2@host')).not.toThrow(/hunter2/);
    expect(describeDatabase(parseDatabaseUrl('mariadb://iot:hunter2@host/iot'))).toBe('mariadb://iot@host:3306/iot');
  });
});
