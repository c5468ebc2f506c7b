import { parseArgs } from 'node:util';
import { ConfigError, parseEnv, z } from '@iot/common/config';
import { type Database, openDatabase, USER_ROLES, type UserRole } from '../db/index.ts';
import { receiverEnv } from '../receiver/config.ts';

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

class UsageError extends Error {}
class OperationError extends Error {}

function fail(message: string, code: 1 | 2): never {
  process.stderr.write(`webadmin-user: ${message}\n${code === 2 ? USAGE : ''}`);
  process.exit(code);
}

function parse(argv: string[]) {
  if (argv.some((a) => a === '--password' || a.startsWith('--password='))) {
    throw new UsageError('--password is not accepted: a password on the command line shows in ps and shell history; pipe it to stdin or use --password-env');
  }
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: { username: { type: 'string' }, role: { type: 'string' }, name: { type: 'string' }, 'password-env': { type: 'string' } },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function required(value: string | undefined, option: string): string {
  if (value === undefined || value === '') throw new UsageError(`${option} is required`);
  return value;
}

async function readPassword(envName: string | undefined): Promise<string> {
  let password: string;
  if (envName !== undefined) {
    const value = process.env[envName];
    if (value === undefined) throw new UsageError(`--password-env ${envName}: the variable is not set`);
    password = value;
  } else {
    if (process.stdin.isTTY) process.stderr.write('password (then Enter and Ctrl-D): ');
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    // One trailing line break is how `echo` and a terminal end input, not part of the password.
    password = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  }
  if (password === '') throw new UsageError('the password is empty');
  return password;
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

try {
  const { values, positionals } = parse(process.argv.slice(2));
  const [command, ...extra] = positionals;
  if (extra.length > 0) throw new UsageError(`unexpected arguments: ${extra.join(' ')}`);
  if (command === 'add') await add(values);
  else if (command === 'token') await token(values);
  else throw new UsageError(command === undefined ? 'a command is required' : `unknown command "${command}"`);
} catch (error) {
  if (error instanceof UsageError) fail(error.message, 2);
  if (error instanceof ConfigError || error instanceof OperationError) fail(error.message, 1);
  throw error;
}
