// The route a timing row carries (server/host/route-fold.ts): ids fold to :id, the rest of the
// path stays as it is, and a 404 without a template is one route however many paths probe.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { foldPath, isIdSegment, routeOf, UNMATCHED_ROUTE } from '../../server/host/route-fold.js';
import { MAX_ROUTE_LENGTH } from '../../shared/store/schema.js';

test('numbers, UUIDs and long hex fold to :id; words and short hex stay', () => {
  assert.equal(foldPath('/items/42'), '/items/:id');
  assert.equal(foldPath('/users/7/orders/123e4567-e89b-12d3-a456-426614174000'), '/users/:id/orders/:id');
  assert.equal(foldPath('/blobs/507f1f77bcf86cd799439011/raw'), '/blobs/:id/raw');
  assert.equal(foldPath('/cafe/added/beef'), '/cafe/added/beef');
  assert.equal(foldPath('/v2/items'), '/v2/items');
  assert.equal(foldPath('/'), '/');
  assert.equal(foldPath(''), '/');
  assert.equal(foldPath('/a/'), '/a/');
});

test('a template wins; a 404 without one is the unmatched route; else the folded path', () => {
  assert.equal(routeOf('/items/:id', '/items/9', 404), '/items/:id');
  assert.equal(routeOf(null, '/wp-login.php', 404), UNMATCHED_ROUTE);
  assert.equal(routeOf(null, '/items/9', 200), '/items/:id');
  assert.equal(routeOf('', '/items/9', 500), '/items/:id');
  assert.equal(routeOf('/x'.repeat(MAX_ROUTE_LENGTH), '/', 200).length, MAX_ROUTE_LENGTH);
});

const word = fc.stringMatching(/^[a-z_.-]{1,12}$/).filter((s) => !isIdSegment(s));
const id = fc.oneof(fc.nat().map(String), fc.uuid(), fc.stringMatching(/^[0-9a-f]{16,40}$/));

test('fuzz: paths that differ only in their ids fold to one route, with no id left in it', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(word, fc.option(fc.tuple(id, id), { nil: null })), { maxLength: 8 }), (parts) => {
      const a = parts.map(([w, ids]) => (ids === null ? `/${w}` : `/${w}/${ids[0]}`)).join('') || '/';
      const b = parts.map(([w, ids]) => (ids === null ? `/${w}` : `/${w}/${ids[1]}`)).join('') || '/';
      const folded = foldPath(a);
      assert.equal(foldPath(b), folded);
      assert.ok(folded.split('/').every((segment) => !isIdSegment(segment)), folded);
    }),
  );
});

test('fuzz: folding is idempotent, keeps the segment count and stays within the bound', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 400 }), (path) => {
      const folded = foldPath(path);
      assert.ok(folded.length <= MAX_ROUTE_LENGTH);
      // A cut can leave a fresh id at the end ("/1234" of "/1234abc"): idempotent below the bound.
      if (folded.length < MAX_ROUTE_LENGTH) assert.equal(foldPath(folded), folded);
      if (path.length <= MAX_ROUTE_LENGTH && path !== '') assert.equal(folded.split('/').length, path.split('/').length);
    }),
  );
});

test('fuzz: the whole-path pre-check finds an id exactly when some segment is one', () => {
  const segment = fc.oneof(word, id, fc.string({ maxLength: 20 }), fc.stringMatching(/^[0-9a-fA-F-]{1,40}$/));
  fc.assert(
    fc.property(fc.array(segment, { maxLength: 8 }), fc.boolean(), (segments, leadingSlash) => {
      const path = (leadingSlash ? '/' : '') + segments.join('/');
      const bySegment = path.split('/').map((s) => (isIdSegment(s) ? ':id' : s)).join('/') || '/';
      assert.equal(foldPath(path), bySegment.slice(0, MAX_ROUTE_LENGTH));
    }),
    { numRuns: 2000 },
  );
});
