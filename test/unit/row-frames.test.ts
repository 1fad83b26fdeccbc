// The frames a worker writes its timing rows and its load in (server/store/row-frames.ts): whole
// batches and the last load come back from any split of the byte stream, and bytes that are not
// frames are refused, not guessed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BatchPacker, COLS, unpack, type PackedBatch } from '../../server/store/packed-batch.js';
import { encodeFrame, encodeLoadFrame, FrameDecoder, RowFrameEncoder } from '../../server/store/row-frames.js';
import { isDragonError } from '../../shared/errors.js';
import { Outcome, type TimingRow } from '../../shared/timing-row.js';

function row(i: number, path: string | null): TimingRow {
  return { app: i % 2 ? 'shop' : 'blög', startMs: 1.7e12 + i, queueMs: i / 3, serviceMs: 2.5 * i, status: 200 + i, outcome: Outcome.ANSWERED, bytesIn: i, bytesOut: 10 * i, method: i % 3 ? 'GET' : 'POST', path, route: i % 4 ? '/ä/:id' : null };
}

function batchOf(rows: TimingRow[]): PackedBatch {
  const packer = new BatchPacker(1000, { recordPaths: true, maxPathLength: 200 });
  for (const r of rows) packer.push(r);
  return packer.take();
}

/** A row's figures, any values the columns hold: both property tests draw them alike. */
const ROW_FIGURES = {
  startMs: fc.double({ noNaN: true }),
  queueMs: fc.double({ noNaN: true }),
  serviceMs: fc.double({ noNaN: true }),
  status: fc.integer({ min: 100, max: 599 }),
  outcome: fc.constantFrom(...Object.values(Outcome)),
  bytesIn: fc.nat(),
  bytesOut: fc.nat(),
};

test('frames split at every offset decode to the rows that were encoded', () => {
  const batches = [batchOf([row(1, '/a/ü?q=1'), row(2, null)]), batchOf([row(3, '/€')]), batchOf([])];
  const stream = Buffer.concat(batches.map(encodeFrame));
  const expected = batches.flatMap((b) => [...unpack(b)]);
  for (let cut = 0; cut <= stream.length; cut++) {
    for (const step of [1, 7, stream.length]) {
      const decoder = new FrameDecoder();
      const got: PackedBatch[] = [...decoder.push(stream.subarray(0, cut))];
      for (let at = cut; at < stream.length; at += step) got.push(...decoder.push(stream.subarray(at, Math.min(at + step, stream.length))));
      assert.deepEqual(got.flatMap((b) => [...unpack(b)]), expected, `cut at ${cut}, step ${step}`);
      assert.equal(decoder.buffered, 0);
    }
  }
});

test('load frames among rows frames, split at every offset: the rows as encoded, and the last load', () => {
  const stream = Buffer.concat([encodeLoadFrame(3, 1), encodeFrame(batchOf([row(1, '/a')])), encodeLoadFrame(2, 0), encodeFrame(batchOf([row(2, '/b')])), encodeLoadFrame(70_000, 4_000_000_000)]);
  for (let cut = 0; cut <= stream.length; cut++) {
    const decoder = new FrameDecoder();
    const got = [...decoder.push(stream.subarray(0, cut)), ...decoder.push(stream.subarray(cut))];
    assert.deepEqual(got.flatMap((b) => [...unpack(b)]).map((r) => r.path), ['/a', '/b'], `cut at ${cut}`);
    assert.deepEqual(decoder.load, [70_000, 4_000_000_000]);
    assert.equal(decoder.buffered, 0);
  }
  const decoder = new FrameDecoder();
  assert.equal(decoder.load, null, 'no load before the first load frame');
  decoder.push(encodeLoadFrame(5, 2).subarray(0, 11));
  assert.equal(decoder.load, null, 'a load frame cut short is not read');
});

test('any rows survive the trip (property)', () => {
  const arbRow = fc.record({
    app: fc.string({ minLength: 1, maxLength: 20 }),
    ...ROW_FIGURES,
    method: fc.constantFrom('GET', 'POST', 'DELETE'),
    path: fc.option(fc.string({ maxLength: 50 }).map((s) => '/' + s.replaceAll('?', '')), { nil: null }),
  });
  fc.assert(
    fc.property(fc.array(arbRow, { maxLength: 30 }), fc.nat(), (rows, cutSeed) => {
      const batch = batchOf(rows as TimingRow[]);
      const frame = encodeFrame(batch);
      const cut = cutSeed % (frame.length + 1);
      const decoder = new FrameDecoder();
      const got = [...decoder.push(frame.subarray(0, cut)), ...decoder.push(frame.subarray(cut))];
      assert.equal(got.length, 1);
      assert.deepEqual([...unpack(got[0] as PackedBatch)], [...unpack(batch)]);
    }),
  );
});

test('a row encoded alone (its buffer reused) decodes as the same row packed in a batch of one (property)', () => {
  const arbRow = fc.record({
    app: fc.constantFrom('shop', 'GET', 'blög'),
    ...ROW_FIGURES,
    method: fc.constantFrom('GET', 'POST'),
    // Up to past the encoder's buffer: a long path, cut to maxPathLength or not, in UTF-8 that is longer still.
    path: fc.option(fc.string({ unit: 'grapheme', maxLength: 3000 }).map((s) => '/' + s.replaceAll('?', '')), { nil: null }),
    route: fc.option(fc.constantFrom('/items/:id', 'GET', '/ä'), { nil: undefined }),
  });
  fc.assert(
    fc.property(fc.array(arbRow, { minLength: 1, maxLength: 12 }), fc.boolean(), fc.constantFrom(200, 4096), (rows, recordPaths, maxPathLength) => {
      const options = { recordPaths, maxPathLength };
      const encoder = new RowFrameEncoder(options);
      // Each frame is copied out before the next encode(), as the ring and the pipe do.
      const stream = Buffer.concat(rows.map((r) => Buffer.from(encoder.encode(r as TimingRow))));
      const expected = rows.flatMap((r) => {
        const packer = new BatchPacker(1, options);
        packer.push(r as TimingRow);
        return [...unpack(packer.take())];
      });
      // Every frame a chunk completes comes back as one batch, split anywhere or not.
      const decoder = new FrameDecoder();
      const cut = Math.floor(stream.length / 2);
      const got = [...decoder.push(stream.subarray(0, cut)), ...decoder.push(stream.subarray(cut))];
      assert.ok(got.length <= 2);
      assert.deepEqual(got.flatMap((b) => [...unpack(b)]), expected);
    }),
    { numRuns: 300 },
  );
});

test('the frames a chunk completes are one batch, whatever dictionaries they carry, and a dictionary is read again once it changes', () => {
  const encoder = new RowFrameEncoder({ recordPaths: true, maxPathLength: 200 });
  const rows = Array.from({ length: 9 }, (_, i) => row(i, i % 3 === 0 ? null : `/p${i}`));
  const frames = rows.map((r) => Buffer.from(encoder.encode(r)));
  const decoder = new FrameDecoder();
  const first = decoder.push(Buffer.concat(frames.slice(0, 6)));
  assert.equal(first.length, 1);
  assert.equal(first[0]!.rows, 6);
  // Only the strings the rows use, each once: shop, blög, GET, POST, /ä/:id.
  assert.deepEqual([...first[0]!.dict].sort(), ['/ä/:id', 'GET', 'POST', 'blög', 'shop']);
  // The next read starts with the dictionary the last one ended with, then changes it.
  const second = decoder.push(Buffer.concat(frames.slice(6)));
  assert.deepEqual([...first, ...second].flatMap((b) => [...unpack(b)]), rows.map((r) => ({ ...r, route: r.route ?? null })));
});

test('bytes that are not frames are refused with DOW_ERR_ROW_FRAME', () => {
  const good = encodeFrame(batchOf([row(1, '/x')]));
  const tooLong = Buffer.from(good);
  tooLong.writeUInt32LE(0xffffffff, 0);
  const inconsistent = Buffer.from(good);
  inconsistent.writeUInt32LE(5, 4); // five rows announced, one sent
  const badDict = Buffer.from(good);
  badDict.write('{', 16 + COLS * 8 + 1); // inside the dictionary's JSON, after the head and one row
  const pastDict = Buffer.from(good);
  pastDict.writeDoubleLE(7, 16 + 8 * 8); // the row's method: entry 7 of a dictionary of 2 or 3
  for (const [what, bytes] of [['a length past the limit', tooLong], ['a row count the length does not hold', inconsistent], ['a dictionary that does not parse', badDict], ['a row naming a string its dictionary does not hold', pastDict]] as const) {
    assert.throws(() => new FrameDecoder().push(bytes), (err: unknown) => isDragonError(err, 'DOW_ERR_ROW_FRAME'), what);
  }
});
