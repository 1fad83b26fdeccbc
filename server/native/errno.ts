/**
 * @module errno
 * An errno from the native I/O core as the ErrnoException Node's own sockets raise, so that logs
 * and tests read `ECONNRESET` the same on both paths.
 */
import { getSystemErrorName } from 'node:util';

export function errnoException(errno: number, syscall: string): NodeJS.ErrnoException {
  let code: string;
  try {
    code = getSystemErrorName(-errno);
  } catch {
    code = `errno ${errno}`;
  }
  const err = new Error(`${syscall} ${code}`) as NodeJS.ErrnoException;
  err.errno = -errno;
  err.code = code;
  err.syscall = syscall;
  return err;
}
