/**
 * @module app-handler
 * What an app is to the server: a Node request listener or a fetch handler, each run by its
 * adapter (node/, fetch/).
 */
import type { FetchHandler } from './fetch/fetch-adapter.js';
import type { NodeListener } from './node/node-adapter.js';

/** `kind`: what the loader recognised ("Express app", "Hono app"...), for the start log. */
export type AppHandler = ({ type: 'node'; listener: NodeListener } | { type: 'fetch'; handler: FetchHandler }) & { kind?: string };
