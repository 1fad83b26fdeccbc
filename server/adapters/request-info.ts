/**
 * @module request-info
 * What an app reaches as `req.scgi` (or a fetch handler's second argument), whichever protocol
 * carried the request: the env, the app's name, the mount, its live figures and its logger.
 */
import type { Logger } from 'pino';
import type { ScgiRequestInfo } from './scgi-request-info.js';
import type { AppHost } from '../host/app-host.js';

type Env = Record<string, string>;

export class RequestInfo implements ScgiRequestInfo {
  /** The route template a framework hook reported for this request (host/route-hooks.ts); null: none. */
  routeTemplate: string | null = null;
  /** Over HTTP there is no env on the wire: a function makes the CGI-style one on first use. */
  private envSource: Env | (() => Env);

  constructor(
    private readonly host: AppHost,
    readonly mount: string,
    env: Env | (() => Env),
  ) {
    this.envSource = env;
  }

  get env(): Env {
    if (typeof this.envSource === 'function') this.envSource = this.envSource();
    return this.envSource;
  }

  get app(): string {
    return this.host.name;
  }

  stats(): Record<string, number> {
    return this.host.ownFigures();
  }

  get log(): Logger {
    return this.host.appLog;
  }
}

/**
 * Where a framework hook leaves the route it matched: on the request's `req.scgi` (or a fetch
 * handler's second argument). Anything else (an app called outside the server) is ignored.
 */
export function reportRouteTemplate(info: unknown, template: unknown): void {
  if (info instanceof RequestInfo && template !== undefined && template !== null) info.routeTemplate = String(template);
}
