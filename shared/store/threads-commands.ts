/**
 * @module threads-commands
 * The control channel between a dashboard in another process and the runtime: the dashboard
 * inserts a row into threads_commands, the runtime's store writer polls it, applies it and answers.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type Database from 'better-sqlite3';
import { errors } from '../errors.js';
import { MAX_THREADS } from '../runtime-control.js';
import { openWritableDb } from './open-db.js';

/*
 * Life of a command:
 *
 *   dashboard                       threads_commands row                       runtime (writer)
 *   requestThreadsChange ──INSERT──> applied_at_ms NULL ──poll 250 ms──> onThreadsCommand(cb)
 *   awaitCommand ──poll──────────── applied_at_ms, old_threads | error <──UPDATE── answer
 *
 * A command still unapplied after COMMAND_MAX_AGE_MS is answered with an error instead: a click
 * made while the runtime was down must not change a limit minutes later.
 */
export const COMMAND_MAX_AGE_MS = 30_000;
export const COMMAND_POLL_MS = 250;

export interface ThreadsCommand {
  id: number;
  app: string;
  threads: number;
  source: string;
  requestedAtMs: number;
  appliedAtMs: number | null;
  oldThreads: number | null;
  error: string | null;
}

interface CommandRow {
  id: number;
  app: string;
  threads: number;
  source: string;
  requested_at_ms: number;
  applied_at_ms: number | null;
  old_threads: number | null;
  error: string | null;
}

const COLUMNS = 'id, app, threads, source, requested_at_ms, applied_at_ms, old_threads, error';

function fromRow(r: CommandRow): ThreadsCommand {
  return {
    id: r.id,
    app: r.app,
    threads: r.threads,
    source: r.source,
    requestedAtMs: r.requested_at_ms,
    appliedAtMs: r.applied_at_ms,
    oldThreads: r.old_threads,
    error: r.error,
  };
}

/** The dashboard's small writable connection (creates and migrates the file if needed). */
export function openCommandsDb(path: string): Database.Database {
  return openWritableDb(path);
}

export function requestThreadsChange(db: Database.Database, app: string, threads: number, source: string, nowMs = Date.now()): number {
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
    throw new errors.DOW_ERR_THREADS_RANGE(MAX_THREADS, String(threads));
  }
  const info = db
    .prepare('INSERT INTO threads_commands (app, threads, source, requested_at_ms) VALUES (?, ?, ?, ?)')
    .run(app, threads, source, nowMs);
  return Number(info.lastInsertRowid);
}

export function readCommand(db: Database.Database, id: number): ThreadsCommand | null {
  const row = db.prepare(`SELECT ${COLUMNS} FROM threads_commands WHERE id = ?`).get(id) as CommandRow | undefined;
  return row ? fromRow(row) : null;
}

/** Polls until the runtime answered; DOW_ERR_RUNTIME_UNREACHABLE when it does not in time. */
export async function awaitCommand(
  db: Database.Database,
  id: number,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<ThreadsCommand> {
  const deadline = Date.now() + (options.timeoutMs ?? 5000);
  for (;;) {
    const cmd = readCommand(db, id);
    if (cmd === null) throw new errors.DOW_ERR_STORE('threads command', `no command ${id}`);
    if (cmd.appliedAtMs !== null) return cmd;
    if (Date.now() >= deadline) throw new errors.DOW_ERR_RUNTIME_UNREACHABLE(`threads command ${id} not applied`);
    await sleep(options.intervalMs ?? 50);
  }
}

// Writer side (server/store), kept here so the table's SQL lives in one file.

export function pendingCommands(db: Database.Database): ThreadsCommand[] {
  const rows = db
    .prepare(`SELECT ${COLUMNS} FROM threads_commands WHERE applied_at_ms IS NULL ORDER BY id`)
    .all() as CommandRow[];
  return rows.map(fromRow);
}

export type CommandAnswer = { oldThreads: number } | { error: string };

export function answerCommand(db: Database.Database, id: number, answer: CommandAnswer, nowMs = Date.now()): void {
  db.prepare('UPDATE threads_commands SET applied_at_ms = ?, old_threads = ?, error = ? WHERE id = ? AND applied_at_ms IS NULL').run(
    nowMs,
    'oldThreads' in answer ? answer.oldThreads : null,
    'error' in answer ? answer.error : null,
    id,
  );
}
