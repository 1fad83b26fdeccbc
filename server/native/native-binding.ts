/**
 * @module native-binding
 * Loads the native I/O core (native/src/addon*.c, built by node-gyp on install) and names what
 * it exports. Loading is optional by design: where the addon did not build (no compiler, another
 * platform) the caller gets the reason and serves through node:net instead.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

/** What dispatch() receives first: conn-machine.h's `dow_event_kind`, and addon-listeners.c's EV_ACCEPT_ERROR. */
export const enum NativeEvent {
  WAIT = 1,
  REQUEST = 2,
  BAD = 3,
  DATA = 4,
  EOF = 5,
  DRAIN = 6,
  ERROR = 7,
  ACCEPT_ERROR = 8,
}

/** Which call an ERROR event reports, as the syscall its error names; conn-machine.h's `dow_failed_call`. */
export const FAILED_CALL: readonly string[] = ['read', 'write', 'poll'];

/** A row ring as the addon hands it out: opaque, tagged so that no other value passes for one. */
export type NativeRing = { readonly __nativeRing: unique symbol };

export type Dispatch = (kind: NativeEvent, id: number, ...args: unknown[]) => void;

export interface NativeBinding {
  /** Sets the one function every event goes to; returns the shared array of pair offsets. */
  init(dispatch: Dispatch): Uint32Array;
  /**
   * Duplicates `fd` and accepts on the copy: a listener id, or -errno. `ownsSocket`: bound by
   * this process, not a worker's copy of the supervisor's; only the owner's stop clears
   * TCP_DEFER_ACCEPT, which every copy shares.
   */
  listen(fd: number, backlog: number, deferAcceptSeconds: number, maxHeaderBytes: number, maxBodyBytes: number, ownsSocket: boolean): number;
  setBacklog(listener: number, backlog: number): number;
  closeListener(listener: number): void;
  /** 1: all sent; 0: queued, a DRAIN event follows; -errno: failed. */
  /** The unsent part stays referenced (not copied) until sent; the Buffer must not change meanwhile, as for net.Socket. */
  write(id: number, data: Buffer): number;
  /** Any number of Buffers, sent in order, 64 per system call; as write() otherwise. */
  writev(id: number, data: Buffer[]): number;
  shutdown(id: number): number;
  close(id: number, reset: boolean): void;
  /** Reading on (the stream wants bytes) or off (paused): 0, or -errno if polling failed. */
  read(id: number, on: boolean): number;
  setNoDelay(id: number, on: boolean): void;
  counts(): { connections: number; listeners: number; queuedBytes: number };
  /** A socket's TCP_DEFER_ACCEPT as the kernel reports it: 0 off, or -errno. */
  deferAcceptSeconds(fd: number): number;
  /** TCP_DEFER_ACCEPT off on a socket this process owns, as it stops: 0 or -errno. */
  stopDeferring(fd: number): number;
  /** New handshakes dropped on a listening socket, those under way still completed: 0 or -errno (addon-listeners.c). */
  refuseHandshakes(fd: number): number;
  /** A new ring for a worker's timing rows (native/src/row-ring.h), of that many data bytes, or -errno. */
  ringCreate(capacityBytes: number): NativeRing | number;
  /** The worker's side of the ring behind an inherited descriptor (closed once mapped), or -errno. */
  ringAttach(fd: number): NativeRing | number;
  /** Its memfd, to hand to the worker; -1 on the worker's side or once closed. */
  ringFd(ring: NativeRing): number;
  /** Copies a frame in: false when it does not fit (nothing written). */
  ringWrite(ring: NativeRing, frame: Buffer): boolean;
  /** Every byte written since the last read, or null; throws DOW_ERR_ROW_RING on a damaged header. */
  ringRead(ring: NativeRing): Buffer | null;
  /** Unmaps it and closes its descriptor; later writes return false and reads null. */
  ringClose(ring: NativeRing): void;
  /** The worker's side: its requests running and queued now, in the ring's header. */
  ringSetLoad(ring: NativeRing, running: number, queued: number): void;
  /** The supervisor's side: [running, queued] as the worker last set them, or null once closed. */
  ringLoad(ring: NativeRing): [running: number, queued: number] | null;
  /**
   * Only in a build made with `build-native.mjs --fault` (tests): the Node-API call whose text
   * starts with `call` fails once, after `after` successful ones.
   */
  injectFault?(call: string, after: number): void;
}

export type NativeLoad = { binding: NativeBinding; path: string } | { binding: null; reason: string };

let loaded: NativeLoad | null = null;

/**
 * The addon, or why not. DOW_NATIVE_ADDON names another build (the AddressSanitizer one that
 * scripts/test-asan.sh makes); otherwise native/build/Release from the package root, found from
 * the sources (server/native/) and from the build (dist/server/native/).
 */
export function loadNative(): NativeLoad {
  if (loaded !== null) return loaded;
  const candidates = process.env.DOW_NATIVE_ADDON
    ? [process.env.DOW_NATIVE_ADDON]
    : ['../../native/build/Release/dow_native.node', '../../../native/build/Release/dow_native.node'].map((relative) => new URL(relative, import.meta.url).pathname);
  const path = candidates.find((candidate) => existsSync(candidate));
  if (process.platform !== 'linux') {
    loaded = { binding: null, reason: `the native I/O core is Linux-only (this is ${process.platform})` };
  } else if (path === undefined) {
    loaded = { binding: null, reason: `the native I/O core was not built (no ${candidates[0]}): reinstall with a C compiler, python3 and make present, or run \`npm run build:native\`` };
  } else {
    try {
      loaded = { binding: createRequire(import.meta.url)(path) as NativeBinding, path };
    } catch (err) {
      loaded = { binding: null, reason: `the native I/O core at ${path} did not load: ${(err as Error).message}` };
    }
  }
  return loaded;
}
