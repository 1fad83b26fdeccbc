/**
 * @module protocol
 * Messages between the timing store's main-thread shell (timing-store.ts) and its writer thread
 * (store-worker.ts).
 */
import type { InstanceInfo } from '../../shared/store/instances.js';
import type { CommandAnswer, ThreadsCommand } from '../../shared/store/threads-commands.js';
import type { LimitChange, RuntimeEvent, WorkersChange } from '../../shared/timing-row.js';
import type { SavedLimit, SavedSetting } from './limit-restore.js';
import type { PackedBatch } from './packed-batch.js';
import type { Retention } from './retention.js';

export interface WorkerConfig {
  path: string;
  retention: Retention;
  retryMaxMs: number;
  pruneIntervalMs: number;
  checkpointIntervalMs: number;
  /** How often the file at the path is compared with the one open (removed, replaced). */
  fileCheckIntervalMs: number;
  /** This server run, registered in the store's `instances` table. */
  instance: InstanceInfo;
}

export type ToWorker =
  | { type: 'rows'; batch: PackedBatch }
  | { type: 'limit'; change: LimitChange }
  | { type: 'event'; event: RuntimeEvent }
  | { type: 'workers'; change: WorkersChange }
  | { type: 'latestLimits'; reqId: number }
  | { type: 'pollCommands' }
  | { type: 'commandAnswer'; id: number; answer: CommandAnswer }
  | { type: 'close' };

export type FromWorker =
  /** The database is open and migrated (at the start, and after each reopen). */
  | { type: 'opened' }
  /** The file at the path was removed or replaced while open: the writer opens the path afresh. */
  | { type: 'replaced'; how: 'removed' | 'replaced' }
  /** `rows` were committed. */
  | { type: 'written'; rows: number }
  /** `rows` were given up on (only at close, when the database stayed unwritable). */
  | { type: 'dropped'; rows: number; reason: string }
  /** One failed attempt to open or write; `reason` keys the rate-limited log. */
  | { type: 'error'; reason: string; message: string }
  | { type: 'recovered'; afterErrors: number }
  | { type: 'latestLimits'; reqId: number; limits?: Array<[string, SavedLimit]>; workers?: Array<[string, SavedSetting]>; error?: string }
  | { type: 'command'; command: ThreadsCommand }
  | { type: 'closed' };
