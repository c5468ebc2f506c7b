import { createRequire } from 'node:module';

interface Statement {
  all(...params: unknown[]): unknown[];
  pluck(): { get(...params: unknown[]): unknown };
}
interface BetterSqlite3Database {
  prepare(source: string, ...rest: unknown[]): unknown;
}
type BetterSqlite3Constructor = new (filename: string, options?: object) => BetterSqlite3Database;
type NativeDatabase = { prepare(source: string, owner: unknown, pragmaMode: boolean): Statement };

/**
 * Every better-sqlite3 Database and Statement object ever created here, kept for the life of the
 * process.
 *
 * Why: Node 24.19+ headers changed `node::ObjectWrap` (which better-sqlite3 ≤ 12 builds on) to
 * remove an environment cleanup hook in its destructor, and that aborts the process
 * ("Assertion failed: (env) != nullptr" in RemoveEnvironmentCleanupHook) when the garbage
 * collector finalises a wrapper while no JS context is entered — at a random moment after a
 * closed Database or an evicted cached Statement became garbage (nodejs/node#65446). Objects
 * that are never collected are never finalised that way. The cost is bounded: one Database per
 * open, and few distinct statements because the stores use fixed statement texts on SQLite
 * (see SqlAccess) and TypeORM's statement cache is large enough never to evict them.
 * Remove this once better-sqlite3 is built against headers with the fix.
 */
const retained = new Set<unknown>();

/** The better-sqlite3 module as TypeORM's `driver` option, keeping its native objects alive. */
export function retainingBetterSqlite3(): BetterSqlite3Constructor {
  const require = createRequire(import.meta.url);
  const BetterSqlite3 = require('better-sqlite3') as BetterSqlite3Constructor;
  // The key under which a better-sqlite3 Database holds its native object (lib/util.js).
  const { cppdb } = require('better-sqlite3/lib/util.js') as { cppdb: symbol };
  return class RetainedDatabase extends BetterSqlite3 {
    private readonly pragmas = new Map<string, Statement>();

    constructor(filename: string, options?: object) {
      super(filename, options);
      retained.add(this);
    }

    override prepare(source: string, ...rest: unknown[]): unknown {
      const statement = super.prepare(source, ...rest);
      retained.add(statement);
      return statement;
    }

    /** better-sqlite3's pragma(), with its statement prepared once per text and kept. */
    pragma(source: string, options: { simple?: boolean } = {}): unknown {
      let statement = this.pragmas.get(source);
      if (statement === undefined) {
        statement = ((this as unknown as Record<symbol, NativeDatabase>)[cppdb] as NativeDatabase).prepare(`PRAGMA ${source}`, this, true);
        this.pragmas.set(source, statement);
        retained.add(statement);
      }
      return options.simple === true ? statement.pluck().get() : statement.all();
    }
  };
}

/** TypeORM's per-connection statement cache: above the number of distinct statements the stores issue. */
export const SQLITE_STATEMENT_CACHE_SIZE = 1000;
