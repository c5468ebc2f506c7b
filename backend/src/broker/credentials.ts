import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { ConfigError, z } from '@iot/common/config';
import { isValidDeviceId } from '@iot/common/protocol';
import { passwordHashProblem } from './password-hash.ts';

/**
 * The broker's credential file: `{ "users": [ { "username", "password_hash", "role", "device_id"? } ] }`.
 * Usernames are restricted to characters that are safe in a Mosquitto password file (`user:hash`)
 * and ACL file (`user <name>`), so the same file can drive either broker.
 */
export const USERNAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$/;

const username = z.string().regex(USERNAME_PATTERN, 'must be 1–128 of A–Z a–z 0–9 _ . @ - (starting with a letter or digit)');
const passwordHash = z.string().superRefine((value, ctx) => {
  const problem = passwordHashProblem(value);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});

const deviceUser = z.strictObject({
  username,
  password_hash: passwordHash,
  role: z.literal('device'),
  device_id: z.string().refine(isValidDeviceId, 'must be a device id (1–64 of A–Z a–z 0–9 _ -, not "broadcast")'),
});
const serviceUser = z.strictObject({ username, password_hash: passwordHash, role: z.literal('service') });

export const credentialUser = z.discriminatedUnion('role', [deviceUser, serviceUser], {
  error: 'role must be "device" or "service"',
});
export const credentialFile = z.strictObject({ users: z.array(credentialUser) });

/** Usernames must be unique; checked on the raw input so it is reported alongside every other problem. */
function duplicateProblems(users: unknown[]): { index: number; message: string }[] {
  const seen = new Map<string, number>();
  const problems: { index: number; message: string }[] = [];
  users.forEach((user, index) => {
    const name = (user as { username?: unknown } | null)?.username;
    if (typeof name !== 'string') return;
    const first = seen.get(name);
    if (first === undefined) seen.set(name, index);
    else problems.push({ index, message: `username: "${name}" is already used by users[${first}]` });
  });
  return problems;
}

export type CredentialUser = z.infer<typeof credentialUser>;
export type CredentialFile = z.infer<typeof credentialFile>;

/** The users a broker accepts, looked up by username. */
export class CredentialSet {
  readonly users: readonly CredentialUser[];
  private readonly byName: ReadonlyMap<string, CredentialUser>;

  constructor(users: readonly CredentialUser[]) {
    this.users = users;
    this.byName = new Map(users.map((u) => [u.username, u]));
  }

  find(name: string): CredentialUser | undefined {
    return this.byName.get(name);
  }
}

/**
 * Validates parsed JSON as a credential file. Every problem is reported at once, each naming the
 * file, the user's index (and username when readable) and what is wrong.
 */
export function parseCredentials(json: unknown, source: string, service = 'mqtt-credentials'): CredentialFile {
  const result = credentialFile.safeParse(json);
  const users = typeof json === 'object' && json !== null && Array.isArray((json as { users?: unknown }).users) ? (json as { users: unknown[] }).users : [];
  const who = (index: number) => {
    const name = (users[index] as { username?: unknown } | null | undefined)?.username;
    return `${source}: users[${index}]${typeof name === 'string' ? ` (username "${name}")` : ''}: `;
  };
  const problems = duplicateProblems(users).map((d) => ({ index: d.index, text: `${who(d.index)}${d.message}` }));
  if (!result.success) {
    for (const issue of result.error.issues) {
      const [top, index, ...rest] = issue.path;
      if (top === 'users' && typeof index === 'number') {
        const field = rest.length > 0 ? `${rest.map(String).join('.')}: ` : '';
        problems.push({ index, text: `${who(index)}${field}${issue.message}` });
      } else {
        problems.push({ index: -1, text: `${source}: ${issue.path.length > 0 ? `${issue.path.map(String).join('.')}: ` : ''}${issue.message}` });
      }
    }
  }
  if (result.success && problems.length === 0) return result.data;
  throw new ConfigError(
    service,
    problems.sort((a, b) => a.index - b.index).map((p) => p.text),
  );
}

/** Reads and validates a credential file; a missing, unreadable or invalid file is a ConfigError. */
export function loadCredentialFile(path: string, service = 'mqtt-credentials'): CredentialFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(service, [`${path}: cannot read the credential file (${(error as Error).message})`]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(service, [`${path}: not valid JSON (${(error as Error).message})`]);
  }
  return parseCredentials(json, path, service);
}

export function loadCredentials(path: string, service = 'mqtt-credentials'): CredentialSet {
  return new CredentialSet(loadCredentialFile(path, service).users);
}

/** Writes the file readable by its owner only, via rename so a crash never leaves half a file. */
export function saveCredentialFile(path: string, file: CredentialFile): void {
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(parseCredentials(file, path), null, 2)}\n`, { mode: 0o600 });
  renameSync(temp, path);
}
