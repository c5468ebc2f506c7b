import { describe, expect, it } from 'vitest';
import { hashPassword, PASSWORD_HASH_PATTERN, passwordHashProblem, verifyPassword } from '../../src/broker/password-hash.ts';

/** RFC 7914 §12, third vector: scrypt(P="pleaseletmein", S="SodiumChloride", N=16384, r=8, p=1, dkLen=64). */
const RFC7914_KEY = Buffer.from(
  '7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887',
  'hex',
);
const RFC7914_HASH = `scrypt$16384$8$1$${Buffer.from('SodiumChloride').toString('base64')}$${RFC7914_KEY.toString('base64')}`;

describe('password hashes', () => {
  it('verify against the RFC 7914 test vector (so our format and parameters are plain scrypt)', async () => {
    expect(await verifyPassword('pleaseletmein', RFC7914_HASH)).toBe(true);
    expect(await verifyPassword('pleaseletmeim', RFC7914_HASH)).toBe(false);
    expect(await verifyPassword(Buffer.from('pleaseletmein'), RFC7914_HASH)).toBe(true);
  });

  it('are made with N=16384, r=8, p=1, a 16-byte salt and a 32-byte key, salted differently each time', async () => {
    const first = await hashPassword('s3cret');
    const second = await hashPassword('s3cret');
    const m = PASSWORD_HASH_PATTERN.exec(first);
    expect(m?.slice(1, 4)).toEqual(['16384', '8', '1']);
    expect(Buffer.from(m![4]!, 'base64')).toHaveLength(16);
    expect(Buffer.from(m![5]!, 'base64')).toHaveLength(32);
    expect(second).not.toBe(first);
    expect(await verifyPassword('s3cret', first)).toBe(true);
    expect(await verifyPassword('s3cret', second)).toBe(true);
    expect(await verifyPassword('S3cret', first)).toBe(false);
  });

  it('treat malformed or abusive stored hashes as non-matching, with a reason', async () => {
    expect(await verifyPassword('x', 'plaintext')).toBe(false);
    expect(passwordHashProblem('plaintext')).toMatch(/scrypt\$N\$r\$p/);
    expect(passwordHashProblem('scrypt$1000$8$1$AAAAAAAAAAA=$AAAAAAAAAAAAAAAAAAAAAA==')).toMatch(/power of two/);
    expect(passwordHashProblem('scrypt$4194304$8$1$AAAAAAAAAAA=$AAAAAAAAAAAAAAAAAAAAAA==')).toMatch(/power of two from 2 to 1048576/);
    expect(passwordHashProblem('scrypt$16384$8$1$AAAA$AAAAAAAAAAAAAAAAAAAAAA==')).toBe('salt must be at least 8 bytes');
    expect(passwordHashProblem(RFC7914_HASH)).toBeUndefined();
  });
});
