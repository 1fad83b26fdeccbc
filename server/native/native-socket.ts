/**
 * @module native-socket
 * One connection of the native I/O core, as a Duplex with the net.Socket surface that the
 * connection shell (server/scgi/connection.ts), the adapters and the apps' frameworks use: bytes in
 * from the addon's events, writes and closes out through its functions. So everything above the
 * socket (limits, timeouts, the app, the stats) is the same code on both paths.
 *
 * Backpressure both ways: a write the kernel did not take whole stays pending until the addon's
 * DRAIN, so the Writable's buffer and 'drain' work as on a net.Socket; a push the Readable
 * refuses stops the addon reading until _read() asks again.
 */
import { Duplex } from 'node:stream';
import { peerOf, type PeerName } from '../listen/peer-name.js';
import { errnoException } from './errno.js';
import type { NativeBinding } from './native-binding.js';

type Callback = (err?: Error | null) => void;

export class NativeSocket extends Duplex {
  bytesRead = 0;
  bytesWritten = 0;
  readonly connecting = false;
  readonly pending = false;
  /** Set by node:http's ServerResponse.assignSocket. */
  _httpMessage: unknown = null;
  /** What Node's net.Socket caches its peer in; presentClient() (node-adapter.ts) overrides it. */
  _peername: PeerName | undefined;
  encrypted?: boolean;
  private writeDone: Callback | null = null;
  private resetOnClose = false;
  private closeWhenFinished = false;
  private idleTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly id: number,
    private readonly native: NativeBinding,
    address: string | undefined,
    port: number | undefined,
  ) {
    super({ allowHalfOpen: true });
    if (address !== undefined) this._peername = peerOf(address, port);
  }

  get remoteAddress(): string | undefined {
    return this._peername?.address;
  }

  get remotePort(): number | undefined {
    return this._peername?.port;
  }

  get remoteFamily(): string | undefined {
    return this._peername?.family;
  }

  get readyState(): string {
    if (this.destroyed) return 'closed';
    return this.readable ? (this.writable ? 'open' : 'readOnly') : this.writable ? 'writeOnly' : 'closed';
  }

  // ── from the addon ───────────────────────────────────────────────────────────────────────

  onNativeData(chunk: Buffer): void {
    this.bytesRead += chunk.length;
    this.idleTimer?.refresh();
    if (!this.push(chunk)) this.setReading(false);
  }

  onNativeEnd(): void {
    this.push(null);
    // As net.Socket does: with nothing buffered, 'end' is emitted even while paused, so a
    // connection that paused its body still hears that the front end gave up.
    this.read(0);
  }

  onNativeDrain(): void {
    const done = this.writeDone;
    this.writeDone = null;
    done?.();
  }

  onNativeError(errno: number, syscall: string): void {
    this.destroy(errnoException(errno, syscall));
  }

  // ── Duplex ───────────────────────────────────────────────────────────────────────────────

  override _read(): void {
    this.setReading(true);
  }

  private setReading(on: boolean): void {
    const result = this.native.read(this.id, on);
    if (result < 0) this.destroy(errnoException(-result, 'poll'));
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: Callback): void {
    this.sent(this.native.write(this.id, chunk), chunk.length, callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: Callback): void {
    let length = 0;
    const buffers = chunks.map(({ chunk }) => {
      length += chunk.length;
      return chunk;
    });
    // Any number: the addon sends them 64 per sendmsg and holds what waits, never joining them.
    this.sent(this.native.writev(this.id, buffers), length, callback);
  }

  private sent(result: number, length: number, callback: Callback): void {
    if (result < 0) {
      callback(errnoException(-result, 'write'));
      return;
    }
    this.bytesWritten += length;
    this.idleTimer?.refresh();
    if (result === 1) callback();
    else this.writeDone = callback;
  }

  override _final(callback: Callback): void {
    // destroySoon(): the close right after sends the FIN; a shutdown() first would be one more call.
    const result = this.closeWhenFinished ? 0 : this.native.shutdown(this.id);
    callback(result < 0 ? errnoException(-result, 'shutdown') : null);
  }

  override _destroy(err: Error | null, callback: Callback): void {
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.native.close(this.id, this.resetOnClose);
    const done = this.writeDone;
    this.writeDone = null;
    done?.(err ?? new Error('socket closed'));
    callback(err);
  }

  // ── the rest of net.Socket's surface ─────────────────────────────────────────────────────

  /**
   * net.Socket's: end our side, and close once the written bytes are out. Through 'finish', not
   * at once even when the addon took every byte: a write's callback still pending (Writable calls
   * it on the next tick) would otherwise get an ERR_STREAM_DESTROYED, an Error built per request.
   */
  destroySoon(): void {
    this.closeWhenFinished = true;
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once('finish', this.destroy);
  }

  resetAndDestroy(): this {
    this.resetOnClose = true;
    return this.destroy();
  }

  setNoDelay(noDelay = true): this {
    this.native.setNoDelay(this.id, noDelay);
    return this;
  }

  setKeepAlive(): this {
    return this;
  }

  /** As net.Socket's: 'timeout' after `ms` without reads or writes; the socket stays open. */
  setTimeout(ms: number, callback?: () => void): this {
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    if (callback) {
      if (ms === 0) this.off('timeout', callback);
      else this.once('timeout', callback);
    }
    if (ms > 0 && !this.destroyed) {
      this.idleTimer = setTimeout(() => this.emit('timeout'), ms);
      this.idleTimer.unref();
    }
    return this;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  address(): Record<string, never> {
    return {};
  }
}
