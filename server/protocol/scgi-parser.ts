/**
 * @module scgi-parser
 * Incremental SCGI request parser: feed it chunks split anywhere, it calls back with the
 * environment once the netstring is complete, then with body chunks, then with the end. Pure: no
 * sockets, no timers; the connection shell owns those. Errors are thrown as typed DragonErrors.
 *
 *   state:  LENGTH ──digits──▶ ":" ──▶ HEADERS (n bytes) ──▶ COMMA ──▶ BODY (CONTENT_LENGTH) ──▶ DONE
 */
import { errors } from '../../shared/errors.js';
import { parseHeaderBlock, type ScgiEnv } from './header-block.js';
import type { ScgiLimits } from './limits.js';

export interface ScgiParserHandler {
  onHeaders(env: ScgiEnv, contentLength: number): void;
  /** A slice of the body; it may share memory with the chunk given to execute(). */
  onBody(chunk: Buffer): void;
  onBodyEnd(): void;
}

const enum State {
  LENGTH,
  HEADERS,
  COMMA,
  BODY,
  DONE,
}

const COLON = 0x3a;
const COMMA = 0x2c;
const ZERO = 0x30;
const NINE = 0x39;
const UPPER_A = 0x41;
const UPPER_Z = 0x5a;

export class ScgiParser {
  private state = State.LENGTH;
  private headerLength = 0;
  private lengthDigits = 0;
  private readonly maxLengthDigits: number;
  /** Header bytes gathered so far when the block spans chunks. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private bodyRemaining = 0;
  /** Bytes consumed in total, for error messages that say where input went wrong. */
  private offset = 0;

  constructor(
    private readonly handler: ScgiParserHandler,
    private readonly limits: Pick<ScgiLimits, 'maxHeaderBytes' | 'maxBodyBytes'>,
  ) {
    this.maxLengthDigits = String(limits.maxHeaderBytes).length;
  }

  /** True once any byte was read: a connection closed before that sent no request at all. */
  get started(): boolean {
    return this.offset > 0;
  }

  /** True once the header block is complete (a 400 is no longer the parser's to give). */
  get headersDone(): boolean {
    return this.state === State.BODY || this.state === State.DONE;
  }

  get done(): boolean {
    return this.state === State.DONE;
  }

  /** Body bytes still expected. */
  get remainingBody(): number {
    return this.bodyRemaining;
  }

  /**
   * The head was parsed elsewhere (the native I/O core, which checked the limits): from here on
   * only the body is counted, as after the comma.
   */
  headParsed(contentLength: number): void {
    this.bodyRemaining = contentLength;
    this.state = contentLength === 0 ? State.DONE : State.BODY;
  }

  execute(chunk: Buffer): void {
    let pos = 0;
    const end = chunk.length;
    while (pos < end) {
      switch (this.state) {
        case State.LENGTH:
          pos = this.readLength(chunk, pos);
          break;
        case State.HEADERS:
          pos = this.readHeaders(chunk, pos);
          break;
        case State.COMMA: {
          const byte = chunk[pos] as number;
          if (byte !== COMMA) throw new errors.DOW_ERR_NETSTRING_COMMA(byte.toString(16).padStart(2, '0'));
          pos++;
          this.offset++;
          this.finishHeaders();
          break;
        }
        case State.BODY: {
          const take = Math.min(end - pos, this.bodyRemaining);
          const slice = pos === 0 && take === end ? chunk : chunk.subarray(pos, pos + take);
          pos += take;
          this.offset += take;
          this.bodyRemaining -= take;
          if (this.bodyRemaining === 0) this.state = State.DONE;
          this.handler.onBody(slice);
          if (this.state === State.DONE) this.handler.onBodyEnd();
          break;
        }
        case State.DONE:
          // The spec defines nothing after the body; nginx and lighttpd send nothing more.
          // Extra bytes are ignored rather than answered with a 400 the app may already be writing.
          this.offset += end - pos;
          return;
      }
    }
  }

  private readLength(chunk: Buffer, start: number): number {
    let pos = start;
    while (pos < chunk.length) {
      const byte = chunk[pos] as number;
      pos++;
      this.offset++;
      if (byte === COLON) {
        if (this.lengthDigits === 0) throw new errors.DOW_ERR_NETSTRING_LENGTH('no digits before ":"');
        if (this.headerLength > this.limits.maxHeaderBytes) {
          throw new errors.DOW_ERR_HEADER_TOO_LARGE(this.headerLength, this.limits.maxHeaderBytes);
        }
        if (this.headerLength === 0) throw new errors.DOW_ERR_HEADER_FORMAT('empty header block');
        this.state = State.HEADERS;
        return pos;
      }
      if (byte < ZERO || byte > NINE) {
        // An upper-case letter first: a request line ("GET / HTTP/1.1"), never a netstring.
        if (this.offset === 1 && byte >= UPPER_A && byte <= UPPER_Z) {
          const line = chunk.toString('latin1', start, Math.min(chunk.length, start + 80)).split(/\r?\n/)[0] as string;
          throw new errors.DOW_ERR_HTTP_ON_SCGI_PORT(JSON.stringify(line));
        }
        throw new errors.DOW_ERR_NETSTRING_LENGTH(`byte 0x${byte.toString(16).padStart(2, '0')} at offset ${this.offset - 1}`);
      }
      // Netstrings forbid leading zeros ("0" alone would be an empty block, refused above).
      if (this.lengthDigits === 1 && this.headerLength === 0) {
        throw new errors.DOW_ERR_NETSTRING_LENGTH('leading zero');
      }
      this.lengthDigits++;
      if (this.lengthDigits > this.maxLengthDigits) {
        // More digits may follow: what was read so far is a lower bound of the length.
        throw new errors.DOW_ERR_HEADER_TOO_LARGE(`at least ${this.headerLength * 10 + (byte - ZERO)}`, this.limits.maxHeaderBytes);
      }
      this.headerLength = this.headerLength * 10 + (byte - ZERO);
    }
    return pos;
  }

  private readHeaders(chunk: Buffer, pos: number): number {
    const need = this.headerLength - this.pendingBytes;
    const available = chunk.length - pos;
    if (this.pendingBytes === 0 && available >= need) {
      // Fast path: the whole block is in this chunk (nginx sends it in one write).
      this.block = chunk.subarray(pos, pos + need);
    } else {
      const take = Math.min(need, available);
      this.pending.push(chunk.subarray(pos, pos + take));
      this.pendingBytes += take;
      this.offset += take;
      if (this.pendingBytes < this.headerLength) return pos + take;
      this.block = Buffer.concat(this.pending, this.pendingBytes);
      this.pending = [];
      this.state = State.COMMA;
      return pos + take;
    }
    this.offset += need;
    this.state = State.COMMA;
    return pos + need;
  }

  private block: Buffer | null = null;

  private finishHeaders(): void {
    const { env, contentLength } = parseHeaderBlock(this.block as Buffer);
    this.block = null;
    if (contentLength > this.limits.maxBodyBytes) {
      throw new errors.DOW_ERR_BODY_TOO_LARGE(contentLength, this.limits.maxBodyBytes);
    }
    this.bodyRemaining = contentLength;
    this.state = contentLength === 0 ? State.DONE : State.BODY;
    this.handler.onHeaders(env, contentLength);
    if (contentLength === 0) this.handler.onBodyEnd();
  }
}
