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
  cleanPath, internString, type PackedBatch, type PackOptions,
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

/**
 * Reassembles frames from the pipe's chunks (or a ring's reads), wherever the chunks split them.
 * The rows frames a chunk completes come back as one batch: a worker with a ring sends a frame
 * per row, and a batch per frame (its own array, dictionary and strings) cost the supervisor
 * 1.7 µs a row. A dictionary is parsed once and kept: a worker's rows repeat the same few (an
 * app, a method and one of its routes).
 */
export class FrameDecoder {
  private pending: Buffer | null = null;
  /** [running, queued] from the last load frame decoded; null before the first. */
  load: [running: number, queued: number] | null = null;
  /** Dictionaries parsed, by their JSON: a worker's rows repeat a few (one per route its app has). */
  private readonly dicts = new Map<string, string[]>();

  /** Every rows frame this chunk completes, as one batch (none: no rows frame); a load frame sets `load`. Throws DOW_ERR_ROW_FRAME on bytes that are not frames. */
  push(chunk: Buffer): PackedBatch[] {
    const buf = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
    // First the frames' heads, all checked before any row is taken: how many rows, and where.
    const frames: number[] = [];
    let rows = 0;
    let at = 0;
    while (buf.length - at >= 4) {
      const length = buf.readUInt32LE(at);
      if (length !== LOAD_LENGTH && (length < HEAD_BYTES - 4 || length > MAX_FRAME_BYTES)) throw new errors.DOW_ERR_ROW_FRAME(`a frame of ${length} bytes`);
      if (buf.length - at - 4 < length) break;
      if (length === LOAD_LENGTH) this.load = [buf.readUInt32LE(at + 4), buf.readUInt32LE(at + 8)];
      else {
        const frameRows = buf.readUInt32LE(at + 4);
        const dictBytes = buf.readUInt32LE(at + 8);
        const pathsBytes = buf.readUInt32LE(at + 12);
        if (HEAD_BYTES + frameRows * COLS * 8 + dictBytes + pathsBytes !== 4 + length) {
          throw new errors.DOW_ERR_ROW_FRAME(`a frame of ${4 + length} bytes announcing ${frameRows} rows, ${dictBytes} + ${pathsBytes} bytes of text`);
        }
        frames.push(at);
        rows += frameRows;
      }
      at += 4 + length;
    }
    const rest = buf.subarray(at);
    this.pending = rest.length > 0 ? Buffer.from(rest) : null;
    return frames.length === 0 ? [] : [this.decode(buf, frames, rows)];
  }

  /** Bytes of a frame not yet complete (a writer that died mid-frame leaves some). */
  get buffered(): number {
    return this.pending?.length ?? 0;
  }

  private decode(buf: Buffer, frames: readonly number[], rows: number): PackedBatch {
    const nums = new Float64Array(rows * COLS);
    const dict: string[] = [];
    const dictIndex = new Map<string, number>();
    const paths: string[] = [];
    /** Each dictionary's indices as indices of `dict`. */
    const mappedOf = new Map<string[], number[]>();
    let row = 0;
    for (const at of frames) {
      const frameRows = buf.readUInt32LE(at + 4);
      const dictBytes = buf.readUInt32LE(at + 8);
      const numsAt = at + HEAD_BYTES;
      const dictAt = numsAt + frameRows * COLS * 8;
      const pathsAt = dictAt + dictBytes;
      const json = buf.toString('utf8', dictAt, pathsAt);
      let strings = this.dicts.get(json);
      if (strings === undefined) {
        strings = parseDict(json);
        // Bounded in count and size: routes are bounded per app, but a worker could send anything.
        if (this.dicts.size >= MAX_DICTS) this.dicts.clear();
        if (json.length <= MAX_CACHED_DICT_CHARS) this.dicts.set(json, strings);
      }
      let mapped = mappedOf.get(strings);
      if (mapped === undefined) {
        mapped = strings.map((s) => internString(dict, dictIndex, s));
        mappedOf.set(strings, mapped);
      }
      // Read a double at a time: the frame sits at any offset, and a Float64Array wants 8-byte alignment.
      for (let r = 0; r < frameRows; r++, row++) {
        const o = row * COLS;
        for (let c = 0; c < COLS; c++) nums[o + c] = buf.readDoubleLE(numsAt + (r * COLS + c) * 8);
        for (const c of DICT_COLS) {
          const local = nums[o + c]!;
          if (c === C_ROUTE && local < 0) continue;
          const global = mapped[local];
          if (global === undefined) throw new errors.DOW_ERR_ROW_FRAME(`a row naming entry ${local} of a dictionary of ${mapped.length}`);
          nums[o + c] = global;
        }
      }
      const end = at + 4 + buf.readUInt32LE(at);
      if (pathsAt < end) paths.push(buf.toString('utf8', pathsAt, end));
    }
    return { rows, nums, dict, paths: paths.join('') };
  }
}

/** Dictionaries a decoder keeps parsed: more than an app's routes (ROUTES_PER_APP) times its methods in use. */
const MAX_DICTS = 1000;
/** A row's dictionary is an app name, a method and a route (MAX_ROUTE_LENGTH): far less than this. */
const MAX_CACHED_DICT_CHARS = 2048;
/** The columns that index the dictionary (a route of -1 is none). */
const DICT_COLS = [C_APP, C_METHOD, C_ROUTE] as const;

function parseDict(json: string): string[] {
  let dict: unknown;
  try {
    dict = JSON.parse(json);
  } catch {
    dict = null;
  }
  if (!Array.isArray(dict) || !dict.every((s) => typeof s === 'string')) throw new errors.DOW_ERR_ROW_FRAME('a dictionary that is not a list of strings');
  return dict as string[];
}
