/** The error registry: every key is its own code, and every class builds a typed error. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DragonError, errors, isDragonError } from '../../shared/errors.js';

test('each registry key equals its code, and instances carry code, message and status', () => {
  for (const [key, ErrorClass] of Object.entries(errors)) {
    assert.equal(ErrorClass.code, key);
    assert.match(key, /^DOW_ERR_[A-Z0-9_]+$/);
    const err = new ErrorClass('a', 1, 2, 3);
    assert.ok(err instanceof DragonError);
    assert.ok(err instanceof Error);
    assert.equal(err.code, key);
    assert.equal(typeof err.message, 'string');
    assert.ok(err.statusCode >= 400 && err.statusCode < 600, `${key} has status ${err.statusCode}`);
    assert.ok(isDragonError(err, key as keyof typeof errors));
  }
});

test('messages fill their slots', () => {
  assert.equal(new errors.DOW_ERR_BODY_TOO_LARGE(20, 10).message, 'body of 20 bytes exceeds the limit of 10');
  assert.equal(new errors.DOW_ERR_BODY_TOO_LARGE(20, 10).statusCode, 413);
});
