/**
 * @module ipc-recorder
 * A worker's timing recorder: rows are packed as the store packs them and sent to the supervisor
 * in batches, where the one SQLite writer takes them. Same flush rule as the store's own buffer
 * (the first row starts a timer, a full batch goes at once), so a worker adds no write latency.
 */
import type { LimitChange, RuntimeEvent, TimingRecorder, TimingRow } from '../../shared/timing-row.js';
import { BatchPacker, type PackedBatch } from '../store/packed-batch.js';
import { STORE_DEFAULTS } from '../store/timing-store.js';

export interface IpcRecorder extends TimingRecorder {
  /** Rows handed to record() so far. */
  readonly recorded: number;
  /** Sends what is buffered now. */
  flush(): void;
}

export function createIpcRecorder(options: { recordPaths: boolean; flushIntervalMs: number; send(batch: PackedBatch): void }): IpcRecorder {
  const packer = new BatchPacker(STORE_DEFAULTS.batchSize, { recordPaths: options.recordPaths, maxPathLength: STORE_DEFAULTS.maxPathLength });
  let timer: NodeJS.Timeout | null = null;
  let recorded = 0;

  function flush(): void {
    if (timer !== null) {
      clearTimeout(timer);
      timer = null;
    }
    if (packer.size > 0) options.send(packer.take());
  }

  return {
    get recorded() {
      return recorded;
    },
    record(row: TimingRow): void {
      recorded++;
      packer.push(row);
      if (packer.size >= STORE_DEFAULTS.batchSize) flush();
      else if (timer === null) {
        timer = setTimeout(flush, options.flushIntervalMs);
        timer.unref();
      }
    },
    flush,
    // The supervisor's store counts rows, drops and errors; a worker has none of its own.
    figures: () => ({ rows: 0, dropped: 0, errors: 0 }),
    // Limit changes and events are the supervisor's to audit.
    recordLimitChange(_change: LimitChange): void {},
    recordEvent(_event: RuntimeEvent): void {},
    async close(): Promise<void> {
      flush();
    },
  };
}
