import { getSystemErrorName } from 'node:util';

/**
 * The symbolic errno of a system error (`EBUSY`, `EREMOTEIO`), or undefined for anything else.
 * Node's fs errors carry it as `code`; native addons built on Nan::ErrnoException set `code` too
 * but may leave only a numeric `errno` (positive from the addon, negative from libuv), so both are
 * read. libuv knows Linux-only names such as EREMOTEIO that os.constants.errno lacks.
 */
export function errnoCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, errno } = error as { code?: unknown; errno?: unknown };
  if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) return code;
  if (typeof errno === 'number' && Number.isInteger(errno) && errno !== 0) {
    const name = getSystemErrorName(-Math.abs(errno));
    return name.startsWith('E') ? name : undefined;
  }
  return undefined;
}
