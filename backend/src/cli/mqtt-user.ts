import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError } from '@iot/common/config';
import { type CredentialFile, type CredentialUser, credentialUser, loadCredentialFile, saveCredentialFile } from '../broker/credentials.ts';
import { hashPassword } from '../broker/password-hash.ts';

/**
 * Manages the MQTT broker's credential file (backend/src/broker/credentials.ts).
 * Passwords come from stdin or a named env var, never from the command line, where `ps` and shell
 * history would show them. Exit codes: 0 done, 1 the operation failed, 2 bad usage.
 */

const USAGE = `usage:
  mqtt-user add    --file FILE --username NAME --role device|service [--device-id ID] [--password-env VAR] [--replace]
                   (the password is read from stdin unless --password-env names a variable holding it)
  mqtt-user list   --file FILE
  mqtt-user remove --file FILE --username NAME
`;

class UsageError extends Error {}
class OperationError extends Error {}

function fail(message: string, code: 1 | 2): never {
  process.stderr.write(`mqtt-user: ${message}\n${code === 2 ? USAGE : ''}`);
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
      options: {
        file: { type: 'string' },
        username: { type: 'string' },
        role: { type: 'string' },
        'device-id': { type: 'string' },
        'password-env': { type: 'string' },
        replace: { type: 'boolean', default: false },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function required(value: string | undefined, option: string): string {
  if (value === undefined || value === '') throw new UsageError(`${option} is required`);
  return value;
}

function load(file: string, allowMissing: boolean): CredentialFile {
  if (allowMissing && !existsSync(file)) return { users: [] };
  return loadCredentialFile(file);
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
  if (/[\r\n]/.test(password)) throw new UsageError('the password contains a line break');
  return password;
}

async function add(values: ReturnType<typeof parse>['values']): Promise<void> {
  const file = required(values.file, '--file');
  const username = required(values.username, '--username');
  const role = required(values.role, '--role');
  if (role !== 'device' && role !== 'service') throw new UsageError(`--role must be device or service (got "${role}")`);
  if (role === 'device' && values['device-id'] === undefined) throw new UsageError('--device-id is required for a device user');
  if (role === 'service' && values['device-id'] !== undefined) throw new UsageError('--device-id only applies to device users');

  // Validate the new user before asking for a password; a well-formed stand-in takes the hash's place.
  const standInHash = 'scrypt$2$1$1$AAAAAAAAAAA=$AAAAAAAAAAAAAAAAAAAAAA==';
  const deviceId = values['device-id'] === undefined ? {} : { device_id: values['device-id'] };
  const draft = credentialUser.safeParse({ username, role, password_hash: standInHash, ...deviceId });
  if (!draft.success) throw new UsageError(draft.error.issues.map((i) => `--${String(i.path[0]).replace('_', '-')}: ${i.message}`).join('; '));

  const credentials = load(file, true);
  const existing = credentials.users.findIndex((u) => u.username === username);
  if (existing >= 0 && !values.replace) throw new OperationError(`user "${username}" already exists in ${file} (use --replace to change it)`);
  const password = await readPassword(values['password-env']);
  const user: CredentialUser = { ...draft.data, password_hash: await hashPassword(password) };
  const users = existing >= 0 ? credentials.users.map((u, i) => (i === existing ? user : u)) : [...credentials.users, user];
  saveCredentialFile(file, { users });
  process.stdout.write(`${existing >= 0 ? 'replaced' : 'added'} ${role} user "${username}" in ${file}\n`);
}

function list(values: ReturnType<typeof parse>['values']): void {
  const file = required(values.file, '--file');
  for (const user of load(file, false).users) {
    process.stdout.write(`${user.username}\t${user.role}${user.role === 'device' ? `\t${user.device_id}` : ''}\n`);
  }
}

function remove(values: ReturnType<typeof parse>['values']): void {
  const file = required(values.file, '--file');
  const username = required(values.username, '--username');
  const credentials = load(file, false);
  const users = credentials.users.filter((u) => u.username !== username);
  if (users.length === credentials.users.length) throw new OperationError(`no user "${username}" in ${file}`);
  saveCredentialFile(file, { users });
  process.stdout.write(`removed user "${username}" from ${file}\n`);
}

try {
  const { values, positionals } = parse(process.argv.slice(2));
  const [command, ...extra] = positionals;
  if (extra.length > 0) throw new UsageError(`unexpected arguments: ${extra.join(' ')}`);
  if (command === 'add') await add(values);
  else if (command === 'list') list(values);
  else if (command === 'remove') remove(values);
  else throw new UsageError(command === undefined ? 'a command is required' : `unknown command "${command}"`);
} catch (error) {
  if (error instanceof UsageError) fail(error.message, 2);
  if (error instanceof ConfigError || error instanceof OperationError) fail(error.message, 1);
  throw error;
}
