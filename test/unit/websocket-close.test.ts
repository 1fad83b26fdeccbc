import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeFrame, CloseCode } from '../../server/protocol/websocket-close.js';

test('a close frame: FIN + opcode 8, unmasked, the code big-endian, then the reason', () => {
  assert.deepEqual([...closeFrame(CloseCode.SERVICE_RESTART, 'bye')], [0x88, 5, 0x03, 0xf4, 0x62, 0x79, 0x65]);
  assert.deepEqual([...closeFrame(CloseCode.GOING_AWAY, '')], [0x88, 2, 0x03, 0xe9]);
});

test('a close frame: the reason is cut to fit a control frame (125 bytes of payload)', () => {
  const frame = closeFrame(CloseCode.INTERNAL_ERROR, 'x'.repeat(500));
  assert.equal(frame[1], 125);
  assert.equal(frame.length, 2 + 125);
  assert.equal(frame.readUInt16BE(2), 1011);
});
