import { parseEnv, z } from '@iot/common/config';
import { type Database, openDatabase, USER_ROLES, type UserRole } from '../db/index.ts';
import { MAX_TOKEN_LIFETIME_MS, TOKEN_SCOPES, type TokenRecord, type TokenScope } from '../db/user-store.ts';
import { receiverEnv } from '../receiver/config.ts';
import { isoTime } from '../webadmin/time-text.ts';
import { OperationError, parseCliArgs, positiveInteger, readPassword, required, runCli, singleCommand, UsageError } from './cli-support.ts';

/**
 * Manages web admin users and API tokens in the database named by DATABASE_URL (migrating it if
 * needed). Passwords come from stdin or a named env var, never from the command line, where `ps`
 * and shell history would show them. Exit codes: 0 done, 1 the operation failed, 2 bad usage.
 */

const DAY_MS = 24 * 3600 * 1000;
const MAX_DAYS = MAX_TOKEN_LIFETIME_MS / DAY_MS;

const USAGE = `usage:
  webadmin-user add          --username NAME --role admin|viewer [--password-env VAR]
                             (the password is read from stdin unless --password-env names a variable holding it)
  webadmin-user token        --username NAME --name TOKEN_NAME [--scope read|full] [--expires-days N]
                             (prints a new API token once; scope read (default) can only read,
                             full has the user's role; it expires after N days, 1–${MAX_DAYS}, default 90)
  webadmin-user tokens       [--username NAME]   (lists API tokens, never the tokens themselves)
  webadmin-user revoke-token --id TOKEN_ID       (the token stops working at once)
`;

function parse(argv: string[]) {
  return parseCliArgs(argv, {
    username: { type: 'string' },
    role: { type: 'string' },
    name: { type: 'string' },
    scope: { type: 'string' },
    'expires-days': { type: 'string' },
    id: { type: 'string' },
    'password-env': { type: 'string' },
  });
}
type Values = ReturnType<typeof parse>['values'];

async function withDatabase<T>(work: (db: Database) => Promise<T>): Promise<T> {
  const config = parseEnv('webadmin-user', z.object({ DATABASE_URL: receiverEnv.DATABASE_URL }), process.env);
  const db = await openDatabase(config.DATABASE_URL);
  try {
    return await work(db);
  } finally {
    await db.close();
  }
}

async function add(values: Values): Promise<void> {
  const username = required(values.username, '--username');
  const role = required(values.role, '--role');
  if (!USER_ROLES.includes(role as UserRole)) throw new UsageError(`--role must be admin or viewer (got "${role}")`);
  const password = await readPassword(values['password-env']);
  const user = await withDatabase(async (db) => {
    try {
      return await db.users.create(username, password, role as UserRole);
    } catch (error) {
      throw new OperationError((error as Error).message);
    }
  });
  process.stdout.write(`added ${role} user "${user.username}"\n`);
}

async function token(values: Values): Promise<void> {
  const username = required(values.username, '--username');
  const name = required(values.name, '--name');
  if (name.length > 100) throw new UsageError('--name is at most 100 characters');
  const scope = values.scope ?? 'read';
  if (!TOKEN_SCOPES.includes(scope as TokenScope)) throw new UsageError(`--scope must be read or full (got "${scope}")`);
  const days = values['expires-days'] === undefined ? 90 : positiveInteger(values['expires-days'], '--expires-days', MAX_DAYS);
  const created = await withDatabase(async (db) => {
    const user = await db.users.find(username);
    if (user === undefined) throw new OperationError(`no user "${username}"`);
    return db.users.createToken(user.id, name, { scope: scope as TokenScope, expiresAt: Date.now() + days * DAY_MS });
  });
  process.stdout.write(`${created}\n`);
}

/** One tab-separated line per token, under a header: easy to read and to cut(1). */
function tokenLines(tokens: readonly TokenRecord[]): string {
  const time = (ms: number | null) => (ms === null ? '-' : isoTime(ms));
  const rows = tokens.map((t) => [t.id, t.username, t.name.replace(/[\t\r\n]/g, ' '), t.scope, t.state, time(t.createdAt), time(t.expiresAt), time(t.lastUsedAt)].join('\t'));
  return `${['id', 'user', 'name', 'scope', 'state', 'created', 'expires', 'last_used'].join('\t')}\n${rows.map((r) => `${r}\n`).join('')}`;
}

async function tokens(values: Values): Promise<void> {
  const listed = await withDatabase(async (db) => {
    if (values.username === undefined) return db.users.listTokens();
    const user = await db.users.find(values.username);
    if (user === undefined) throw new OperationError(`no user "${values.username}"`);
    return db.users.listTokens(user.id);
  });
  process.stdout.write(tokenLines(listed));
}

async function revokeToken(values: Values): Promise<void> {
  const id = positiveInteger(required(values.id, '--id'), '--id', Number.MAX_SAFE_INTEGER);
  const revoked = await withDatabase((db) => db.users.revokeToken(id));
  if (revoked === undefined) throw new OperationError(`no API token ${id}`);
  process.stdout.write(`revoked API token ${id} ("${revoked.name}" of ${revoked.username})\n`);
}

await runCli('webadmin-user', USAGE, async () => {
  const { values, positionals } = parse(process.argv.slice(2));
  const command = singleCommand(positionals);
  if (command === 'add') await add(values);
  else if (command === 'token') await token(values);
  else if (command === 'tokens') await tokens(values);
  else if (command === 'revoke-token') await revokeToken(values);
  else throw new UsageError(`unknown command "${command}"`);
});
