/**
 * @module app-handler
 * What an app is to the server: a Node request listener or a fetch handler, each run by its
 * adapter (node/, fetch/), and what takes its upgraded connections (WebSockets), if anything does.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FetchHandler } from './fetch/fetch-adapter.js';
import type { NodeListener } from './node/node-adapter.js';

/** node:http's 'upgrade' event, as `ws`'s `handleUpgrade()` (noServer mode) takes it. */
export type UpgradeListener = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

/**
 * `kind`: what the loader recognised ("Express app", "Hono app"...), for the start log.
 * `upgrade`: given each request with an `Upgrade` header; absent, such a request is an ordinary
 * one, as under a node:http server with no 'upgrade' listener.
 */
export type AppHandler = ({ type: 'node'; listener: NodeListener } | { type: 'fetch'; handler: FetchHandler }) & { kind?: string; upgrade?: UpgradeListener };
