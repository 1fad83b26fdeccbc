/**
 * @module ipc-recorder
 * A worker's timing recorder: rows are packed as the store packs them and handed to the supervisor
 * (its row ring, or its rows pipe), where the one SQLite writer takes them: at once into a ring, at
 * the end of the event-loop turn that recorded them onto the pipe.
 */
import type { LimitChange, RuntimeEvent, TimingRecorder, TimingRow } from '../../shared/timing-row.js';
import { BatchPacker } from '../store/packed-batch.js';
import { encodeFrame, RowFrameEncoder } from '../store/row-frames.js';
import { STORE_DEFAULTS } from '../store/timing-store.js';

export interface IpcRecorder extends TimingRecorder {
  /** Rows handed to record() so far. */
  readonly recorded: number;
  /** Sends what is buffered now. */
  flush(): void;
}

/*
 * A row is recorded once its response is with the kernel. Waiting for a timer kept rows of sent
 * responses in this process for up to a flush interval, lost if it then died (process.exit, a
 * SIGKILL, an OOM, a hang kill). setImmediate sends them once this turn's callbacks are done: one
 * message carries every row the turn finished, and a worker that dies later loses none of them.
 *
 *   turn N: finish A ─ record A (schedules the flush) ─ finish B ─ record B ─ check phase: send [A, B]
 *
 * `atOnce`: each row is sent as it is recorded, as a frame of its own (RowFrameEncoder, with no
 * allocation per row). A ring in shared memory costs a copy and no system call, so nothing is
 * gained by waiting for the turn's end, and not even a process.exit later in the same turn can
 * lose the row.
 *
 * `send` gets a rows frame (server/store/row-frames.ts) and must copy it out before it returns.
 */
export function createIpcRecorder(options: { recordPaths: boolean; atOnce?: boolean; send(frame: Buffer): void }): IpcRecorder {
  const packOptions = { recordPaths: options.recordPaths, maxPathLength: STORE_DEFAULTS.maxPathLength };
  const packer = new BatchPacker(STORE_DEFAULTS.batchSize, packOptions);
  const single = options.atOnce === true ? new RowFrameEncoder(packOptions) : null;
  let scheduled: NodeJS.Immediate | null = null;
  let recorded = 0;

  function flush(): void {
    if (scheduled !== null) {
      clearImmediate(scheduled);
      scheduled = null;
    }
    if (packer.size > 0) options.send(encodeFrame(packer.take()));
  }

  return {
    get recorded() {
      return recorded;
    },
    record(row: TimingRow): void {
      recorded++;
      if (single !== null) return options.send(single.encode(row));
      packer.push(row);
      if (packer.size >= STORE_DEFAULTS.batchSize) flush();
      else scheduled ??= setImmediate(flush);
    },
    flush,
    // The supervisor's store counts rows, drops and errors; a worker has none of its own.
    figures: () => ({ rows: 0, dropped: 0, errors: 0 }),
    // Limit changes and events are the supervisor's to audit.
    recordLimitChange(_change: LimitChange): void {},
    recordEvent(_event: RuntimeEvent): void {},
    recordWorkersChange(): void {},
    async close(): Promise<void> {
      flush();
    },
  };
}
