/**
 * @module worker-rows
 * A worker's timing rows on their way to the supervisor: from the ring it shares (read every
 * RING_READ_MS and once more at its exit) and from its pipe, counted, so that the rows it
 * recorded but never delivered are known once both are read; and its load (requests running and
 * queued) from the ring's header or the pipe's load frames, so that the requests that died with
 * it are known too (worker-side: rows-outlet.ts).
 */
import type { Readable } from 'node:stream';
import type { RowRing } from '../native/row-ring.js';
import type { PackedBatch } from '../store/packed-batch.js';
import { FrameDecoder } from '../store/row-frames.js';

/**
 * After a worker exits, its last rows are already in the pipe (its last messages in its IPC
 * channel); the end is awaited this long at most, in case a process the app started inherited the
 * worker's end and keeps it open.
 */
export const END_WAIT_MS = 1000;
/**
 * How often a worker's row ring is read while it lives: rows then reach the store's batches at
 * most this late (the store itself waits store.flushInterval), and the ring's 4 MiB holds far
 * more than a worker records meanwhile. Once more at its exit, before anything counts its rows.
 */
const RING_READ_MS = 25;

export class WorkerRows {
  /** Rows read from its ring and its pipe together. */
  received = 0;
  /** Resolves once every row the worker wrote has been read (its pipe ended, its ring read after its exit), or could not be. */
  readonly read: Promise<void>;
  private pipeEnded: () => void = () => {};
  private ringDrained: () => void = () => {};
  /** Where its rows go first; null without the native core, or once read for the last time. */
  private ring: RowRing | null = null;
  /** Its ring's load word as it died, read at its exit before the ring is unmapped. */
  private loadAtExit: [running: number, queued: number] | null = null;
  private ringTimer: NodeJS.Timeout | null = null;
  private readonly ringDecoder = new FrameDecoder();
  /** Its pipe's frames; load frames come only from a worker without a ring. */
  private readonly pipeDecoder = new FrameDecoder();

  constructor(
    private readonly onBatch: (batch: PackedBatch) => void,
    private readonly onBroken: (err: Error) => void,
  ) {
    const pipeEnded = new Promise<void>((resolve) => (this.pipeEnded = resolve));
    const ringDrained = new Promise<void>((resolve) => (this.ringDrained = resolve));
    this.read = Promise.all([pipeEnded, ringDrained]).then(() => {});
  }

  /** The worker runs: its pipe (null: none) and its ring (null: none), read while it lives if `poll`. */
  attach(pipe: Readable | null, ring: RowRing | null, poll: boolean): void {
    this.readPipe(pipe);
    // Without a ring its load comes on the pipe, from 0: it sends a frame only once it changes.
    if (ring === null && pipe !== null) this.pipeDecoder.load ??= [0, 0];
    if (ring === null) return this.closeRing();
    this.ring = ring;
    if (poll) this.ringTimer = setInterval(() => this.readRing(), RING_READ_MS).unref();
  }

  /** It exited: whatever it wrote to the ring is there, whole, read now; the pipe ends soon. */
  exited(): void {
    // Its load word is kept for the lost count; a pipe's last load frame is read with its end.
    this.readRing();
    this.loadAtExit = this.ring?.load() ?? null;
    this.closeRing();
    setTimeout(this.pipeEnded, END_WAIT_MS).unref();
  }

  /** fork() failed: no rows will ever come. */
  never(): void {
    this.pipeEnded();
    this.closeRing();
  }

  /**
   * [running, queued] as the worker last published them (in the ring's header, or on the pipe
   * when it has no ring), and as it died once `read` resolved; null when neither can be trusted.
   */
  load(): [running: number, queued: number] | null {
    return this.pipeDecoder.load ?? this.ring?.load() ?? this.loadAtExit;
  }

  private readPipe(pipe: Readable | null): void {
    if (pipe === null) {
      this.pipeEnded();
      return;
    }
    const decoder = this.pipeDecoder;
    pipe.on('data', (chunk: Buffer) => {
      let batches: PackedBatch[];
      try {
        batches = decoder.push(chunk);
      } catch (err) {
        // Nothing more from this pipe is trusted, its load frames included.
        decoder.load = null;
        pipe.destroy();
        this.onBroken(err as Error);
        return;
      }
      this.take(batches);
    });
    pipe.on('close', this.pipeEnded);
    // A read error ends the pipe as 'close' does; the rows not read are counted as lost.
    pipe.on('error', () => {});
  }

  private take(batches: PackedBatch[]): void {
    for (const batch of batches) {
      this.received += batch.rows;
      this.onBatch(batch);
    }
  }

  /** Takes every frame the worker put in its ring since the last read. */
  private readRing(): void {
    if (this.ring === null) return;
    let batches: PackedBatch[];
    try {
      const bytes = this.ring.read();
      if (bytes === null) return;
      batches = this.ringDecoder.push(bytes);
    } catch (err) {
      // A damaged header or bytes that are not frames: nothing more from this ring is trusted.
      this.closeRing();
      this.onBroken(err as Error);
      return;
    }
    this.take(batches);
  }

  private closeRing(): void {
    if (this.ringTimer !== null) clearInterval(this.ringTimer);
    this.ringTimer = null;
    this.ring?.close();
    this.ring = null;
    this.ringDrained();
  }
}
