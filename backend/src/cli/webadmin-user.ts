import { parseEnv, z } from '@iot/common/config';
import { type Database, openDatabase, USER_ROLES, type UserRole } from '../db/index.ts';
import { receiverEnv } from '../receiver/config.ts';
import { OperationError, parseCliArgs, readPassword, required, runCli, singleCommand, UsageError } from './cli-support.ts';

/**
 * Manages web admin users in the database named by DATABASE_URL (migrating it if needed).
 * Passwords come from stdin or a named env var, never from the command line, where `ps` and
 * shell history would show them. Exit codes: 0 done, 1 the operation failed, 2 bad usage.
 */

const USAGE = `usage:
  webadmin-user add   --username NAME --role admin|viewer [--password-env VAR]
                      (the password is read from stdin unless --password-env names a variable holding it)
  webadmin-user token --username NAME --name TOKEN_NAME   (prints a new API token once)
`;

function parse(argv: string[]) {
  return parseCliArgs(argv, { username: { type: 'string' }, role: { type: 'string' }, name: { type: 'string' }, 'password-env': { type: 'string' } });
}

async function openFromEnv(): Promise<Database> {
  const config = parseEnv('webadmin-user', z.object({ DATABASE_URL: receiverEnv.DATABASE_URL }), process.env);
  return openDatabase(config.DATABASE_URL);
}

async function add(values: ReturnType<typeof parse>['values']): Promise<void> {
  const username = required(values.username, '--username');
  const role = required(values.role, '--role');
  if (!USER_ROLES.includes(role as UserRole)) throw new UsageError(`--role must be admin or viewer (got "${role}")`);
  const password = await readPassword(values['password-env']);
  const db = await openFromEnv();
  try {
    await db.users.create(username, password, role as UserRole);
  } catch (error) {
    throw new OperationError((error as Error).message);
  } finally {
    await db.close();
  }
  process.stdout.write(`added ${role} user "${username}"\n`);
}

async function token(values: ReturnType<typeof parse>['values']): Promise<void> {
  const username = required(values.username, '--username');
  const name = required(values.name, '--name');
  if (name.length > 100) throw new UsageError('--name is at most 100 characters');
  const db = await openFromEnv();
  try {
    const user = await db.users.find(username);
    if (user === undefined) throw new OperationError(`no user "${username}"`);
    process.stdout.write(`${await db.users.createToken(user.id, name)}\n`);
  } finally {
    await db.close();
  }
}

await runCli('webadmin-user', USAGE, async () => {
  const { values, positionals } = parse(process.argv.slice(2));
  const command = singleCommand(positionals);
  if (command === 'add') await add(values);
  else if (command === 'token') await token(values);
  else throw new UsageError(`unknown command "${command}"`);
});
