/**
 * @module row-frames
 * The byte format in which a worker hands its timing rows to the supervisor, in the ring they
 * share (server/native/row-ring.ts) or on a pipe of their own: a PackedBatch as one
 * length-prefixed frame; and on the pipe, the worker's load (its requests running and queued),
 * which a worker with a ring keeps in the ring's header instead. Pure: Buffers in, values out.
 *
 * Why a pipe and not the IPC channel: a message there costs ~10 µs on each side (V8's serializer,
 * Node's framing, a 'message' event), and rows leave a worker at the end of every turn that
 * finished a response, which under load is about once a request. A frame costs one write on the
 * worker's side and a memcpy on the supervisor's, which reads many frames per read.
 *
 *   0        4        8        12       16                    16 + 8·R·COLS
 *   +--------+--------+--------+--------+---------------------+-----------+-----------+
 *   | length |  rows  | dictB  | pathsB | nums: R·COLS f64 LE | dict JSON | paths     |
 *   +--------+--------+--------+--------+---------------------+-----------+-----------+
 *   u32 LE each; length counts the bytes after itself; dict and paths are UTF-8.
 *
 * A load frame is told apart by its length, 8, which no rows frame has (its head alone is 12):
 *
 *   0        4        8        12
 *   +--------+--------+--------+
 *   | 8      | running| queued |   u32 LE each
 *   +--------+--------+--------+
 */
import { errors } from '../../shared/errors.js';
import type { TimingRow } from '../../shared/timing-row.js';
import {
  C_APP, C_BYTES_IN, C_BYTES_OUT, C_METHOD, C_OUTCOME, C_PATH_LEN, C_QUEUE, C_ROUTE, C_SERVICE, C_START, C_STATUS, COLS,
  cleanPath, type PackedBatch, type PackOptions,
} from './packed-batch.js';

const HEAD_BYTES = 16;
const LOAD_LENGTH = 8;
/** A frame longer than this is not ours: a batch holds at most a few thousand rows. */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024;

export function encodeFrame(batch: PackedBatch): Buffer {
  const dict = JSON.stringify(batch.dict);
  const dictBytes = Buffer.byteLength(dict);
  const pathsBytes = Buffer.byteLength(batch.paths);
  const numsBytes = batch.rows * COLS * 8;
  const frame = Buffer.allocUnsafe(HEAD_BYTES + numsBytes + dictBytes + pathsBytes);
  frame.writeUInt32LE(frame.length - 4, 0);
  frame.writeUInt32LE(batch.rows, 4);
  frame.writeUInt32LE(dictBytes, 8);
  frame.writeUInt32LE(pathsBytes, 12);
  frame.set(new Uint8Array(batch.nums.buffer, batch.nums.byteOffset, numsBytes), HEAD_BYTES);
  frame.write(dict, HEAD_BYTES + numsBytes);
  frame.write(batch.paths, HEAD_BYTES + numsBytes + dictBytes);
  return frame;
}

/** Room for the frames of most single rows; a longer one gets a buffer of its own. */
const SCRATCH_BYTES = 4096;

/**
 * One row as a rows frame, the same rows encodeFrame() makes of a batch of one, written into a
 * buffer kept for the next row. A worker with a ring sends each row as it is recorded (a request
 * at a time), where a batch of one would cost a Float64Array, a Buffer and a dictionary per row.
 * The frame returned is good until the next encode(): the caller copies it out (into the ring, or
 * onto the pipe with a blocking write) before then.
 */
export class RowFrameEncoder {
  private readonly scratch = Buffer.alloc(SCRATCH_BYTES);
  // An alloc'd Buffer of its own starts at offset 0 of its ArrayBuffer, so this is 8-byte aligned;
  // the frame's numbers are f64 LE, which is this platform's order (as encodeFrame copies them).
  private readonly nums = new Float64Array(this.scratch.buffer, this.scratch.byteOffset + HEAD_BYTES, COLS);
  /** The last dictionary and its JSON: a worker's rows mostly share app, method and route. */
  private lastDict: [app: string, method: string, route: string | null] | null = null;
  private lastDictJson = '';

  constructor(private readonly options: PackOptions) {}

  encode(row: TimingRow): Buffer {
    const route = row.route ?? null;
    const path = this.options.recordPaths ? cleanPath(row.path, this.options.maxPathLength) : null;
    const dict = this.lastDict;
    if (dict === null || dict[0] !== row.app || dict[1] !== row.method || dict[2] !== route) {
      this.lastDict = [row.app, row.method, route];
      this.lastDictJson = JSON.stringify(route === null ? [row.app, row.method] : [row.app, row.method, route]);
    }
    const dictJson = this.lastDictJson;
    const dictBytes = Buffer.byteLength(dictJson);
    const pathsBytes = path === null ? 0 : Buffer.byteLength(path);
    const length = HEAD_BYTES + COLS * 8 + dictBytes + pathsBytes;
    const n = this.nums;
    n[C_APP] = 0;
    n[C_START] = row.startMs;
    n[C_QUEUE] = row.queueMs;
    n[C_SERVICE] = row.serviceMs;
    n[C_STATUS] = row.status;
    n[C_OUTCOME] = row.outcome;
    n[C_BYTES_IN] = row.bytesIn;
    n[C_BYTES_OUT] = row.bytesOut;
    n[C_METHOD] = 1;
    n[C_ROUTE] = route === null ? -1 : 2;
    n[C_PATH_LEN] = path === null ? -1 : path.length;
    let frame = this.scratch;
    if (length > SCRATCH_BYTES) {
      frame = Buffer.allocUnsafe(length);
      this.scratch.copy(frame, HEAD_BYTES, HEAD_BYTES, HEAD_BYTES + COLS * 8);
    }
    frame.writeUInt32LE(length - 4, 0);
    frame.writeUInt32LE(1, 4);
    frame.writeUInt32LE(dictBytes, 8);
    frame.writeUInt32LE(pathsBytes, 12);
    frame.write(dictJson, HEAD_BYTES + COLS * 8);
    if (path !== null) frame.write(path, HEAD_BYTES + COLS * 8 + dictBytes);
    return frame.subarray(0, length);
  }
}

/** A worker's requests running and queued, as one load frame. */
export function encodeLoadFrame(running: number, queued: number): Buffer {
  const frame = Buffer.allocUnsafe(4 + LOAD_LENGTH);
  frame.writeUInt32LE(LOAD_LENGTH, 0);
  frame.writeUInt32LE(running, 4);
  frame.writeUInt32LE(queued, 8);
  return frame;
}

/** Reassembles frames from the pipe's chunks, wherever the chunks split them. */
export class FrameDecoder {
  private pending: Buffer | null = null;
  /** [running, queued] from the last load frame decoded; null before the first. */
  load: [running: number, queued: number] | null = null;

  /** Batches completed by this chunk (a load frame sets `load`); throws DOW_ERR_ROW_FRAME on bytes that are not frames. */
  push(chunk: Buffer): PackedBatch[] {
    let buf = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
    const out: PackedBatch[] = [];
    let at = 0;
    while (buf.length - at >= 4) {
      const length = buf.readUInt32LE(at);
      if (length !== LOAD_LENGTH && (length < HEAD_BYTES - 4 || length > MAX_FRAME_BYTES)) throw new errors.DOW_ERR_ROW_FRAME(`a frame of ${length} bytes`);
      if (buf.length - at - 4 < length) break;
      if (length === LOAD_LENGTH) this.load = [buf.readUInt32LE(at + 4), buf.readUInt32LE(at + 8)];
      else out.push(decodeFrame(buf.subarray(at, at + 4 + length)));
      at += 4 + length;
    }
    buf = buf.subarray(at);
    this.pending = buf.length > 0 ? Buffer.from(buf) : null;
    return out;
  }

  /** Bytes of a frame not yet complete (a writer that died mid-frame leaves some). */
  get buffered(): number {
    return this.pending?.length ?? 0;
  }
}

function decodeFrame(frame: Buffer): PackedBatch {
  const rows = frame.readUInt32LE(4);
  const dictBytes = frame.readUInt32LE(8);
  const pathsBytes = frame.readUInt32LE(12);
  const numsBytes = rows * COLS * 8;
  if (HEAD_BYTES + numsBytes + dictBytes + pathsBytes !== frame.length) {
    throw new errors.DOW_ERR_ROW_FRAME(`a frame of ${frame.length} bytes announcing ${rows} rows, ${dictBytes} + ${pathsBytes} bytes of text`);
  }
  const nums = new Float64Array(rows * COLS);
  // Copied: the frame sits at any offset of the chunk, and Float64Array wants 8-byte alignment.
  new Uint8Array(nums.buffer).set(frame.subarray(HEAD_BYTES, HEAD_BYTES + numsBytes));
  let dict: unknown;
  try {
    dict = JSON.parse(frame.toString('utf8', HEAD_BYTES + numsBytes, HEAD_BYTES + numsBytes + dictBytes));
  } catch {
    dict = null;
  }
  if (!Array.isArray(dict) || !dict.every((s) => typeof s === 'string')) throw new errors.DOW_ERR_ROW_FRAME('a dictionary that is not a list of strings');
  const paths = frame.toString('utf8', HEAD_BYTES + numsBytes + dictBytes);
  return { rows, nums, dict: dict as string[], paths };
}
