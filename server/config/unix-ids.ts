/**
 * @module unix-ids
 * Looks up users and groups by name or number, for `user`/`group` and `socketOwner`/`socketGroup`.
 * Node has no getpwnam/getgrnam, so this asks `getent`, which goes through NSS as the C library
 * does (LDAP, sssd, systemd's DynamicUser=), and reads /etc/passwd and /etc/group only where there
 * is no getent.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface UnixUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

export interface UnixGroup {
  name: string;
  gid: number;
}

/** getent's exit code for "no such key" (getent(1)). */
const GETENT_NOT_FOUND = 2;

/** The passwd entry of a user name or uid; null if there is none. */
export function lookupUser(spec: string | number): UnixUser | null {
  const fields = lookup('passwd', String(spec));
  if (!fields) return null;
  return { name: fields[0] as string, uid: Number(fields[2]), gid: Number(fields[3]), home: fields[5] ?? '/' };
}

/** The group entry of a group name or gid; null if there is none. */
export function lookupGroup(spec: string | number): UnixGroup | null {
  const fields = lookup('group', String(spec));
  if (!fields) return null;
  return { name: fields[0] as string, gid: Number(fields[2]) };
}

/** One colon-separated entry of an NSS database, found by name or, for digits, by id. */
function lookup(database: 'passwd' | 'group', key: string): string[] | null {
  if (key === '' || key.includes(':') || key.includes('\n')) return null;
  let text: string;
  try {
    text = execFileSync('getent', [database, key], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { status?: number };
    if (e.status === GETENT_NOT_FOUND) return null;
    if (e.code !== 'ENOENT') throw err;
    text = fromFile(database, key);
  }
  const line = text.split('\n').find((l) => l !== '');
  return line === undefined ? null : line.split(':');
}

/** Without getent (a minimal image): the plain files, which is all NSS would read there anyway. */
function fromFile(database: 'passwd' | 'group', key: string): string {
  const byId = /^\d+$/.test(key);
  // name:password:id:… in both files.
  const idField = 2;
  for (const line of readFileSync(`/etc/${database}`, 'utf8').split('\n')) {
    const fields = line.split(':');
    if ((byId ? fields[idField] : fields[0]) === key) return line;
  }
  return '';
}
