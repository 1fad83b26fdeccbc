/**
 * @module row-ring
 * A worker's timing rows through memory it shares with the supervisor (native/src/row-ring.h):
 * the worker copies each frame in, with no system call and no wake-up of the supervisor, which
 * reads them all on a timer; and the worker's requests running and queued, which the supervisor
 * reads when the worker does not answer. Null where the native core is not built or cannot make
 * one (no memfd): the rows pipe then carries every frame, as it carries those that do not fit.
 */
import { errors } from '../../shared/errors.js';
import { loadNative, type NativeBinding, type NativeRing } from './native-binding.js';

/** Room for ~20,000 rows of a frame each: far more than a worker records between two reads. */
export const ROW_RING_BYTES = 4 * 1024 * 1024;
/** The smallest ring (native/src/row-ring.h): a worker without the timing store uses only its header. */
export const ROW_RING_MIN_BYTES = 64;

export interface RowRing {
  /** Its memfd, for the worker's stdio (the supervisor's side); -1 on the worker's side. */
  readonly fd: number;
  /** Copies a whole frame in; false when it does not fit, and nothing was written. */
  write(frame: Buffer): boolean;
  /** Every byte written since the last read (whole frames), or null; throws DOW_ERR_ROW_RING. */
  read(): Buffer | null;
  /**
   * The worker's side: its requests running and queued now, one store into the shared header,
   * so the supervisor sees them even while the worker's event loop is stuck in a request.
   */
  setLoad(running: number, queued: number): void;
  /** The supervisor's side: [running, queued] as the worker last set them, or null once closed. */
  load(): [running: number, queued: number] | null;
  /** Unmaps it; later writes return false and reads null. */
  close(): void;
}

function wrap(binding: NativeBinding, ring: NativeRing): RowRing {
  return {
    fd: binding.ringFd(ring),
    write: (frame) => binding.ringWrite(ring, frame),
    read() {
      try {
        return binding.ringRead(ring);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'DOW_ERR_ROW_RING') throw new errors.DOW_ERR_ROW_RING((err as Error).message.replace(/^timing rows from a worker: /, ''));
        throw err;
      }
    },
    setLoad: (running, queued) => binding.ringSetLoad(ring, running, queued),
    load: () => binding.ringLoad(ring),
    close: () => binding.ringClose(ring),
  };
}

/** The supervisor's side: a new ring for one worker, or null where none can be had. */
export function createRowRing(capacityBytes = ROW_RING_BYTES): RowRing | null {
  const { binding } = loadNative();
  if (binding === null) return null;
  const ring = binding.ringCreate(capacityBytes);
  return typeof ring === 'number' ? null : wrap(binding, ring);
}

/** The worker's side: the ring behind the descriptor it inherited, or null where it cannot map it. */
export function attachRowRing(fd: number): RowRing | null {
  const { binding } = loadNative();
  if (binding === null) return null;
  const ring = binding.ringAttach(fd);
  return typeof ring === 'number' ? null : wrap(binding, ring);
}
