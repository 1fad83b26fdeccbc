/**
 * @module rows-outlet
 * A worker's side of its timing rows and its load (requests running and queued): into the ring it
 * shares with the supervisor when it has one, else onto its rows pipe, where the load travels as
 * a frame of its own (server/store/row-frames.ts). Either way the supervisor knows, when the
 * worker dies, how many requests died with it, including those newer than its last heartbeat.
 */
import { writeSync, writevSync } from 'node:fs';
import type { RowRing } from '../native/row-ring.js';
import { encodeLoadFrame } from '../store/row-frames.js';

export interface RowsOutlet {
  /** One frame of rows, on its way now, whole. */
  rows(frame: Buffer): void;
  /** Hot path: the worker's requests running or queued changed. */
  load(running: number, queued: number): void;
  /** Every row and the load, out now (the process is exiting). */
  flush(): void;
}

export interface RowsOutletOptions {
  /** Null: the pipe carries the rows and the load. */
  ring: RowRing | null;
  pipeFd: number;
  /** Hands the rows recorded but not yet sent to rows(): they leave before a load that released their slots. */
  takeRows(): void;
  /** The pipe failed (the supervisor is gone): said once, and the rows are nobody's to count. */
  onPipeLost(err: Error): void;
}

/**
 * On the pipe, a request admitted (or queued) sends the load at once, with the rows recorded
 * before it, ahead of the app's code for that request: a worker killed in that code (a SIGKILL,
 * an OOM in a synchronous allocation, a loop the hang kill ends) still has the request counted
 * and loses no earlier row. A load that fell leaves with the turn's rows, or by itself at the end
 * of the turn: freed slots can wait, because a count too high only counts a request twice. A row
 * goes before the load that released its slot, so a worker killed between the two is counted
 * twice (its row, and a lost request by its load), never not at all; as in the ring, where the
 * row is copied in before the slot is released.
 *
 *   turn N: finish A (row A, load -1) ─ admit B: write [rows A][load] ─ B's app code ─ finish C
 *           (row C, load -1) ─ check phase: write [rows C][load]
 *
 * That is a write per admitted request on this path (io 'node', or no native core), which the
 * ring does with a store to shared memory.
 */
export function createRowsOutlet(options: RowsOutletOptions): RowsOutlet {
  const { ring, pipeFd } = options;
  let pipeLost = false;
  let sentRunning = 0;
  let sentQueued = 0;
  let running = 0;
  let queued = 0;
  let scheduled: NodeJS.Immediate | null = null;

  function write(parts: Buffer[]): void {
    try {
      const total = parts.reduce((n, part) => n + part.length, 0);
      const done = writevSync(pipeFd, parts);
      if (done === total) return;
      // The pipe blocks when full, so a short write is rare: the rest goes in order, whole.
      const rest = Buffer.concat(parts).subarray(done);
      for (let at = 0; at < rest.length; ) at += writeSync(pipeFd, rest, at);
    } catch (err) {
      if (!pipeLost) options.onPipeLost(err as Error);
      pipeLost = true;
    }
  }

  /** The load frame when the pipe carries the load and it changed since the last one sent. */
  function loadDue(): Buffer[] {
    if (ring !== null || (running === sentRunning && queued === sentQueued)) return [];
    sentRunning = running;
    sentQueued = queued;
    return [encodeLoadFrame(running, queued)];
  }

  function flush(): void {
    if (scheduled !== null) clearImmediate(scheduled);
    scheduled = null;
    options.takeRows();
    const due = loadDue();
    if (due.length > 0) write(due);
  }

  return {
    rows(frame) {
      if (ring?.write(frame)) return;
      write([frame, ...loadDue()]);
    },
    load(nowRunning, nowQueued) {
      if (ring !== null) return ring.setLoad(nowRunning, nowQueued);
      const admitted = nowRunning + nowQueued > running + queued;
      running = nowRunning;
      queued = nowQueued;
      if (admitted) flush();
      else scheduled ??= setImmediate(flush);
    },
    flush,
  };
}
