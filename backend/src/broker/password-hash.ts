import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';

/**
 * Password hashes in the credential file: `scrypt$N$r$p$saltB64$hashB64`. Parameters travel with
 * each hash, so raising N later leaves existing hashes verifiable. N=2^14, r=8, p=1 is the
 * interactive-login setting of the scrypt paper (Percival 2009, §7) and what RFC 7914 uses in its
 * test vectors; it needs 16 MiB (128·N·r bytes) per hash.
 */
export const SCRYPT_DEFAULTS = { N: 16_384, r: 8, p: 1 } as const;
const SALT_BYTES = 16;
const KEY_BYTES = 32;
/** Upper bounds so a tampered credential file cannot make every login allocate gigabytes. */
const MAX_N = 1 << 20;
const MAX_R = 32;
const MAX_P = 16;

export const PASSWORD_HASH_PATTERN = /^scrypt\$(\d{1,8})\$(\d{1,3})\$(\d{1,3})\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;

interface ParsedHash {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  key: Buffer;
}

/** Why a stored hash cannot be used, or undefined when it is well-formed. */
export function passwordHashProblem(stored: string): string | undefined {
  const parsed = parse(stored);
  return typeof parsed === 'string' ? parsed : undefined;
}

function parse(stored: string): ParsedHash | string {
  const m = PASSWORD_HASH_PATTERN.exec(stored);
  if (m === null) return 'must look like scrypt$N$r$p$salt$hash (base64 salt and hash); create it with mqtt-user';
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (N < 2 || N > MAX_N || (N & (N - 1)) !== 0) return `scrypt N must be a power of two from 2 to ${MAX_N} (got ${N})`;
  if (r < 1 || r > MAX_R) return `scrypt r must be from 1 to ${MAX_R} (got ${r})`;
  if (p < 1 || p > MAX_P) return `scrypt p must be from 1 to ${MAX_P} (got ${p})`;
  const salt = Buffer.from(m[4]!, 'base64');
  const key = Buffer.from(m[5]!, 'base64');
  if (salt.length < 8) return 'salt must be at least 8 bytes';
  if (key.length < 16) return 'hash must be at least 16 bytes';
  return { N, r, p, salt, key };
}

function derive(password: Buffer | string, salt: Buffer, length: number, params: { N: number; r: number; p: number }): Promise<Buffer> {
  const options: ScryptOptions = { N: params.N, r: params.r, p: params.p, maxmem: 256 * params.N * params.r + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    // The async form runs in libuv's thread pool, so a login does not stall other clients.
    scrypt(password, salt, length, options, (error, key) => (error === null ? resolve(key) : reject(error)));
  });
}

/** A new hash of `password` with a random salt. */
export async function hashPassword(password: string, params: { N: number; r: number; p: number } = SCRYPT_DEFAULTS): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, KEY_BYTES, params);
  return `scrypt$${params.N}$${params.r}$${params.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** Whether `password` matches `stored`; false (never a throw) for a malformed hash. Compares in constant time. */
export async function verifyPassword(password: Buffer | string, stored: string): Promise<boolean> {
  const parsed = parse(stored);
  if (typeof parsed === 'string') return false;
  const key = await derive(password, parsed.salt, parsed.key.length, parsed);
  return timingSafeEqual(key, parsed.key);
}
