/**
 * @module websocket-close
 * The one WebSocket frame the server writes itself: a close frame, sent on an upgraded connection
 * the app still holds when its worker stops, so the client reconnects instead of seeing a cut.
 */

/**
 * Close codes of RFC 6455, section 7.4.1, and the IANA registry: 1001 "an endpoint is going away,
 * such as a server going down", 1011 "an unexpected condition", 1012 "Service Restart" (clients
 * should reconnect, after a delay).
 */
export const CloseCode = {
  GOING_AWAY: 1001,
  INTERNAL_ERROR: 1011,
  SERVICE_RESTART: 1012,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** A control frame's payload is at most 125 bytes: the code takes 2. */
const MAX_REASON_BYTES = 123;

/**
 * An unmasked close frame (a server's frames are never masked, RFC 6455 5.1):
 *
 *   byte 0: FIN + opcode 0x8    byte 1: payload length (<= 125, no mask bit)
 *   bytes 2-3: the code, big-endian    then the reason, UTF-8
 */
export function closeFrame(code: CloseCode, reason: string): Buffer {
  let text = Buffer.from(reason, 'utf8');
  if (text.length > MAX_REASON_BYTES) text = text.subarray(0, MAX_REASON_BYTES);
  const frame = Buffer.alloc(4 + text.length);
  frame[0] = 0x88;
  frame[1] = 2 + text.length;
  frame.writeUInt16BE(code, 2);
  text.copy(frame, 4);
  return frame;
}
