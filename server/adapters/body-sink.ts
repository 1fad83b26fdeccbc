/**
 * @module body-sink
 * Where a request body goes once the app runs: a Node IncomingMessage or a web ReadableStream.
 * The connection pushes chunks in and pauses the socket when the sink says "enough"; the sink asks
 * for more through `resume()`. That is the whole backpressure path, socket to app.
 */

export interface BodySink {
  /** Returns false when the consumer is full; the connection then pauses the socket. */
  push(chunk: Buffer): boolean;
  end(): void;
  /** The body will never complete (client gone, idle timeout). */
  abort(err: Error): void;
}
