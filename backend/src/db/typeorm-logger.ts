import type { Logger } from '@iot/common/log';
import type { Logger as OrmLogger } from 'typeorm';

/**
 * TypeORM's messages on the service's JSON log. Queries are not logged (the receiver writes
 * thousands a second); failed queries are thrown to the caller, who logs them with context.
 */
export function typeormLogger(log: Logger): OrmLogger {
  return {
    logQuery: () => {},
    logQueryError: () => {},
    logQuerySlow: (time, query) => log.warn({ event: 'db_slow_query', duration_ms: time, query: query.slice(0, 200) }, 'slow database query'),
    logSchemaBuild: () => {},
    logMigration: (message) => log.info({ event: 'db_migration', detail: message }, 'database migration'),
    log: (level, message) => {
      // e.g. "MySQL connection raised an error" when the server goes away between queries.
      if (level === 'warn') log.warn({ event: 'db_warning', detail: String(message) }, 'database warning');
    },
  };
}
