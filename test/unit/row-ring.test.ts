/**
 * The timing-row ring (native/src/row-ring.c) through the real addon: a worker's side and the
 * supervisor's side in one process, mapping the same memfd, as two processes do.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { isDragonError } from '../../shared/errors.js';
import { loadNative } from '../../server/native/native-binding.js';
import { attachRowRing, createRowRing, type RowRing } from '../../server/native/row-ring.js';
import { testDir } from '../helpers/temp-dir.js';

const load = loadNative();
const skip = load.binding === null && !process.env.CI ? `no native core: ${load.binding === null ? load.reason : ''}` : false;

/** Offsets in native/src/row-ring.h. */
const HEAD_OFFSET = 128;
const TAIL_OFFSET = 256;
const LOAD_OFFSET = 136;

function pair(t: { after(fn: () => void): void }, capacity: number): { reader: RowRing; writer: RowRing } {
  const reader = createRowRing(capacity);
  assert.ok(reader, 'a ring');
  // The worker inherits the memfd; here a second descriptor of it stands in for the inherited one.
  const writer = attachRowRing(openSync(`/proc/self/fd/${reader.fd}`, 'r+'));
  assert.ok(writer, 'attached');
  t.after(() => {
    writer.close();
    reader.close();
  });
  return { reader, writer };
}

function frame(length: number, seed: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = (seed * 31 + i * 7) & 0xff;
  return bytes;
}

function pokeU64(ring: RowRing, offset: number, value: bigint): void {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64LE(value);
  assert.equal(writeSync(ring.fd, bytes, 0, 8, offset), 8);
}

test('frames of a few sizes come out whole from every offset of the ring, across its end', { skip }, (t) => {
  const capacity = 256;
  for (const size of [1, 7, 64, 129, 255, 256]) {
    const { reader, writer } = pair(t, capacity);
    let position = 0;
    for (let offset = 0; offset < capacity; offset++) {
      // Filler moves the ring's position to `offset` before the frame.
      const fill = (offset - (position % capacity) + capacity) % capacity;
      if (fill > 0) {
        assert.equal(writer.write(frame(fill, 0)), true);
        assert.equal(reader.read()?.length, fill);
        position += fill;
      }
      const sent = frame(size, offset);
      assert.equal(writer.write(sent), true, `size ${size} at offset ${offset}`);
      assert.deepEqual(reader.read(), sent, `size ${size} at offset ${offset}`);
      position += size;
      assert.equal(reader.read(), null);
    }
  }
});

test('frames written between two reads come out as one run of bytes, in order', { skip }, (t) => {
  const { reader, writer } = pair(t, 1024);
  const frames = [frame(100, 1), frame(300, 2), frame(5, 3)];
  for (const f of frames) assert.equal(writer.write(f), true);
  assert.deepEqual(reader.read(), Buffer.concat(frames));
});

test('a full ring refuses a frame whole (false, nothing written) and takes it once read', { skip }, (t) => {
  const { reader, writer } = pair(t, 256);
  assert.equal(writer.write(frame(200, 1)), true);
  assert.equal(writer.write(frame(57, 2)), false);
  assert.deepEqual(reader.read(), frame(200, 1));
  assert.equal(writer.write(frame(57, 2)), true);
  assert.deepEqual(reader.read(), frame(57, 2));
  assert.equal(writer.write(frame(256, 3)), true, 'the whole capacity, when empty');
  assert.equal(writer.write(frame(1, 4)), false);
  assert.deepEqual(reader.read(), frame(256, 3));
  assert.equal(writer.write(frame(257, 5)), false, 'more than the capacity, ever');
});

test('a damaged header is read safely: a head out of range throws DOW_ERR_ROW_RING, one in range gives bounded bytes', { skip }, (t) => {
  const { reader, writer } = pair(t, 256);
  assert.equal(writer.write(frame(10, 1)), true);
  assert.equal(reader.read()?.length, 10);
  // The worker's side scribbles: a head behind the supervisor's tail, then far ahead of it.
  for (const head of [3n, 10n + 257n, 0xffff_ffff_ffff_ffffn]) {
    pokeU64(reader, HEAD_OFFSET, head);
    assert.throws(() => reader.read(), (err: unknown) => isDragonError(err, 'DOW_ERR_ROW_RING'), `head ${head}`);
  }
  // The largest head that can be right: a ring's worth of whatever the memory holds, no more.
  pokeU64(reader, HEAD_OFFSET, 10n + 256n);
  assert.equal(reader.read()?.length, 256);
  // A scribbled tail or magic does not move what the supervisor reads: it keeps its own tail.
  pokeU64(reader, TAIL_OFFSET, 0xffff_ffffn);
  pokeU64(reader, 0, 0n);
  assert.equal(reader.read(), null);
  // ...and the worker's side, which trusts the tail, finds no room rather than writing anywhere.
  assert.equal(writer.write(frame(1, 1)), false);
});

test('a descriptor that is not a ring is not attached; a closed ring neither takes nor gives', { skip }, async (t) => {
  const dir = await testDir(t, 'row-ring');
  const fd = openSync(join(dir, 'plain'), 'w+');
  writeSync(fd, Buffer.alloc(4096));
  assert.equal(attachRowRing(fd), null);
  closeSync(fd);
  const { reader, writer } = pair(t, 256);
  writer.close();
  reader.close();
  assert.equal(writer.write(frame(1, 1)), false);
  assert.equal(reader.read(), null);
});

test("the worker's load crosses in the header: [running, queued] as last set, [0, 0] before, null once closed", { skip }, (t) => {
  const { reader, writer } = pair(t, 256);
  assert.deepEqual(reader.load(), [0, 0]);
  writer.setLoad(3, 2);
  assert.deepEqual(reader.load(), [3, 2]);
  writer.setLoad(0xffff_ffff, 1);
  assert.deepEqual(reader.load(), [0xffff_ffff, 1], 'the two halves of the word do not bleed into each other');
  // Rows and load share the worker's stretch of the header without disturbing each other.
  assert.equal(writer.write(frame(10, 1)), true);
  writer.setLoad(1, 0);
  assert.deepEqual(reader.read(), frame(10, 1));
  assert.deepEqual(reader.load(), [1, 0]);
  writer.close();
  writer.setLoad(5, 5);
  assert.deepEqual(reader.load(), [1, 0], 'a closed writer sets nothing');
  reader.close();
  assert.equal(reader.load(), null);
});

test('a scribbled load word reads as some pair of 32-bit numbers, never a fault', { skip }, (t) => {
  const { reader } = pair(t, 256);
  pokeU64(reader, LOAD_OFFSET, 0xffff_ffff_ffff_ffffn);
  assert.deepEqual(reader.load(), [0xffff_ffff, 0xffff_ffff]);
  pokeU64(reader, LOAD_OFFSET, (7n << 32n) | 9n);
  assert.deepEqual(reader.load(), [9, 7]);
});
