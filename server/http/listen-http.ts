/**
 * @module listen-http
 * The listener of a `protocol: 'http'` app: node:http on the app's socket (http-listener.ts).
 */
import type { AcceptErrorHandler, ListenerSpec, OpenListener } from '../listen/listener.js';
import { listenNetServer } from '../listen/listen-net.js';
import { createHttpListener, type HttpListener, type HttpListenerOptions } from './http-listener.js';

/** The open listener, and its HttpListener for a drain's and an adoption's connection work. */
export async function listenHttp(spec: ListenerSpec, options: HttpListenerOptions, onAcceptError: AcceptErrorHandler): Promise<OpenListener & { http: HttpListener }> {
  const http = createHttpListener(options);
  const open = await listenNetServer(http.server, spec, onAcceptError, () => http.stopListening());
  return { ...open, http };
}
