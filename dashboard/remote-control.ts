/**
 * @module remote-control
 * RuntimeControl for `dragon-on-wheels dashboard --db …`, the dashboard in its own process:
 * live figures come from the runtime's stats port, limit changes go through the database's
 * threads_commands table, which the runtime's store writer polls and answers. Reloads and
 * worker-count changes are not offered here (see reload below).
 */
import type Database from 'better-sqlite3';
import { errors, isDragonError } from '../shared/errors.js';
import type { RuntimeControl, RuntimeSnapshot } from '../shared/runtime-control.js';
import { parseStats } from '../shared/stats-format.js';
import { answerCommand, awaitCommand, openCommandsDb, readCommand, requestThreadsChange, type ThreadsCommand } from '../shared/store/threads-commands.js';
import { parseTcpAddress } from '../shared/listen-address.js';
import { readStatsPort, STATS_TIMEOUT_MS } from './stats-client.js';
import { snapshotFromStats } from './stats-snapshot.js';

/** The issue wants a change live within 1 s; the writer polls every 250 ms, so 1.5 s is ample. */
export const APPLY_TIMEOUT_MS = 1500;
const APPLY_POLL_MS = 50;

export interface RemoteControlOptions {
  /** The runtime's stats port, `host:port`. */
  stats: string;
  /** The timing store file the runtime writes (and polls for commands). */
  dbPath: string;
  statsTimeoutMs?: number;
  applyTimeoutMs?: number;
}

export interface RemoteControl extends RuntimeControl {
  close(): void;
}

export function createRemoteControl(options: RemoteControlOptions): RemoteControl {
  const { host, port } = parseTcpAddress(options.stats);
  // Opened on first use: a dashboard that only looks never needs a writable connection.
  let db: Database.Database | null = null;

  return {
    async snapshot(): Promise<RuntimeSnapshot> {
      const text = await readStatsPort(host, port, options.statsTimeoutMs ?? STATS_TIMEOUT_MS);
      return snapshotFromStats(parseStats(text));
    },

    async setThreads(app, threads, source) {
      db ??= openCommandsDb(options.dbPath);
      const id = requestThreadsChange(db, app, threads, source);
      const cmd = await awaitOrCancel(db, id, options.applyTimeoutMs ?? APPLY_TIMEOUT_MS);
      if (cmd.error !== null || cmd.oldThreads === null) {
        throw new errors.DOW_ERR_BAD_REQUEST(`the runtime refused the change: ${cmd.error ?? 'no previous value'}`);
      }
      return { app, oldThreads: cmd.oldThreads, newThreads: threads };
    },

    /*
     * No command table carries reloads: a reload takes seconds, starts processes and must answer
     * with their pids, which a 250 ms poll of SQLite by the store writer is not the place for.
     */
    async reload(app) {
      throw new errors.DOW_ERR_RELOAD(
        app,
        'this dashboard runs in its own process; reload from the dashboard inside the server (serve, demo) or with `dragon-on-wheels reload`',
      );
    },

    async setWorkers(app) {
      throw new errors.DOW_ERR_SCALE(
        app,
        'this dashboard runs in its own process; scale from the dashboard inside the server (serve, demo) or with `dragon-on-wheels scale`',
      );
    },

    close() {
      db?.close();
      db = null;
    },
  };
}

/**
 * Waits for the runtime's answer; on timeout, withdraws the command so a runtime that comes back
 * later does not apply a change the operator was told had failed. The withdrawal is the same
 * conditional UPDATE the runtime uses (`WHERE applied_at_ms IS NULL`), so exactly one side wins;
 * if the runtime won in the meantime, its answer stands.
 */
async function awaitOrCancel(db: Database.Database, id: number, timeoutMs: number): Promise<ThreadsCommand> {
  try {
    return await awaitCommand(db, id, { timeoutMs, intervalMs: APPLY_POLL_MS });
  } catch (err) {
    if (!isDragonError(err, 'DOW_ERR_RUNTIME_UNREACHABLE')) throw err;
    answerCommand(db, id, { error: `withdrawn by the dashboard after ${timeoutMs} ms without an answer` });
    const cmd = readCommand(db, id);
    if (cmd && cmd.oldThreads !== null && cmd.error === null) return cmd;
    throw err;
  }
}
