/**
 * @module scgi-request-info
 * What an app sees of its request beyond HTTP, whichever adapter runs it (`req.scgi`, or a fetch
 * handler's second argument); server/adapters/request-info.ts builds it.
 */
import type { Logger } from 'pino';

/** The SCGI view an app can reach from `req.scgi` (the original handed apps their environ). */
export interface ScgiRequestInfo {
  env: Record<string, string>;
  app: string;
  /**
   * The prefix stripped from the path ('' when none): an app under `/shop` sees `/cart` and
   * builds its own links and redirects as `${mount}/cart`.
   */
  mount: string;
  /** The app's own live figures, as the original's `wsgi.x_thread_stat`. */
  stats(): Record<string, number>;
  /**
   * The server's logger for this app (pino: its format, its file, the app's name and the worker's
   * pid on each line), for errors a framework catches itself and would print to stderr unprefixed.
   */
  log: Logger;
}
