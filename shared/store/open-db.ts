/**
 * @module open-db
 * Opens a connection to the timing store with the settings every side shares: WAL, so that
 * readers never block the writer nor the writer readers, and a bounded busy timeout.
 */
import Database from 'better-sqlite3';
import { BUSY_TIMEOUT_MS } from './schema.js';
import { migrate } from './migrations.js';

/** A writable connection, migrated to the current schema (creates the file if missing). */
export function openWritableDb(path: string): Database.Database {
  const db = new Database(path);
  try {
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    // WAL persists in the file; setting it again is a no-op. NORMAL is durable across process
    // crashes in WAL mode and only risks the last transactions on power loss.
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    migrate(db, path);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

/** A read-only connection; the file must exist. */
export function openReadonlyDb(path: string): Database.Database {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  return db;
}
