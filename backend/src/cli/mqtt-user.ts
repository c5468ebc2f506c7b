import { existsSync } from 'node:fs';
import { deviceClientId } from '../broker/client-id-rule.ts';
import { type CredentialFile, type CredentialUser, credentialUser, loadCredentialFile, saveCredentialFile } from '../broker/credentials.ts';
import { hashPassword } from '../broker/password-hash.ts';
import { OperationError, parseCliArgs, readPassword, required, runCli, singleCommand, UsageError } from './cli-support.ts';

/**
 * Manages the MQTT broker's credential file (backend/src/broker/credentials.ts).
 * Passwords come from stdin or a named env var, never from the command line, where `ps` and shell
 * history would show them. Exit codes: 0 done, 1 the operation failed, 2 bad usage.
 */

const USAGE = `usage:
  mqtt-user add    --file FILE --username NAME --role device|service [--device-id ID] [--password-env VAR] [--replace]
                   (the password is read from stdin unless --password-env names a variable holding it;
                   a device user must connect with client id device-<device id>, a service user NAME
                   with NAME or NAME-<anything>: backend/src/broker/client-id-rule.ts)
  mqtt-user list   --file FILE
  mqtt-user remove --file FILE --username NAME
`;

function parse(argv: string[]) {
  return parseCliArgs(argv, {
    file: { type: 'string' },
    username: { type: 'string' },
    role: { type: 'string' },
    'device-id': { type: 'string' },
    'password-env': { type: 'string' },
    replace: { type: 'boolean', default: false },
  });
}

function load(file: string, allowMissing: boolean): CredentialFile {
  if (allowMissing && !existsSync(file)) return { users: [] };
  return loadCredentialFile(file);
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
  const password = await readPassword(values['password-env'], { refuseLineBreaks: true });
  const user: CredentialUser = { ...draft.data, password_hash: await hashPassword(password) };
  const users = existing >= 0 ? credentials.users.map((u, i) => (i === existing ? user : u)) : [...credentials.users, user];
  saveCredentialFile(file, { users });
  // The broker binds client ids to users (client-id-rule.ts); say which ones, so the client is configured to match.
  const clientIds = user.role === 'device' ? `client id ${deviceClientId(user.device_id)}` : `client ids ${username} or ${username}-<anything>`;
  process.stdout.write(`${existing >= 0 ? 'replaced' : 'added'} ${role} user "${username}" in ${file}; it connects with ${clientIds}\n`);
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

await runCli('mqtt-user', USAGE, async () => {
  const { values, positionals } = parse(process.argv.slice(2));
  const command = singleCommand(positionals);
  if (command === 'add') await add(values);
  else if (command === 'list') list(values);
  else if (command === 'remove') remove(values);
  else throw new UsageError(`unknown command "${command}"`);
});
