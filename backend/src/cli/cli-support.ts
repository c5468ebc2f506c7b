import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError } from '@iot/common/config';

/**
 * What the user-managing CLIs share: option parsing that refuses `--password` on the command line,
 * passwords from stdin or a named env var (never argv, where `ps` and shell history show them),
 * and one mapping of errors to exit codes: 0 done, 1 the operation failed, 2 bad usage.
 */
export class UsageError extends Error {}
export class OperationError extends Error {}

export function parseCliArgs<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T) {
  if (argv.some((a) => a === '--password' || a.startsWith('--password='))) {
    throw new UsageError('--password is not accepted: a password on the command line shows in ps and shell history; pipe it to stdin or use --password-env');
  }
  try {
    return parseArgs({ args: argv, allowPositionals: true, strict: true, options });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

export function required(value: string | undefined, option: string): string {
  if (value === undefined || value === '') throw new UsageError(`${option} is required`);
  return value;
}

/** A positive whole number from an option, at most `max`. @throws UsageError naming the option. */
export function positiveInteger(text: string, option: string, max: number): number {
  const value = /^\d{1,16}$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < 1 || value > max) throw new UsageError(`${option} must be a whole number from 1 to ${max} (got "${text}")`);
  return value;
}

/** Reads a password from the env var named by --password-env, or else from stdin. */
export async function readPassword(envName: string | undefined, options: { refuseLineBreaks?: boolean } = {}): Promise<string> {
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
  if (options.refuseLineBreaks && /[\r\n]/.test(password)) throw new UsageError('the password contains a line break');
  return password;
}

/** Runs `main` and turns its errors into a message on stderr and the exit code. */
export async function runCli(name: string, usage: string, main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (error) {
    const code = error instanceof UsageError ? 2 : error instanceof ConfigError || error instanceof OperationError ? 1 : undefined;
    if (code === undefined) throw error;
    process.stderr.write(`${name}: ${(error as Error).message}\n${code === 2 ? usage : ''}`);
    process.exit(code);
  }
}

/** Splits positionals into one command and refuses anything after it. */
export function singleCommand(positionals: string[]): string {
  const [command, ...extra] = positionals;
  if (extra.length > 0) throw new UsageError(`unexpected arguments: ${extra.join(' ')}`);
  if (command === undefined) throw new UsageError('a command is required');
  return command;
}
