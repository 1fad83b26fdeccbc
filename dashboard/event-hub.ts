/**
 * @module event-hub
 * The server-sent event stream behind `GET /api/events`. One timer serves every connected page:
 * each tick reads the snapshot once, builds one `update` frame and writes it to all clients.
 * The timer runs only while someone listens.
 *
 *   clients: Set<ServerResponse>   tick every EVENT_INTERVAL_MS ─► frame ─► write to each
 */
import type { ServerResponse } from 'node:http';
import type { FastifyBaseLogger } from 'fastify';
import type { DashboardContext } from './context.js';
import { buildApps, buildOverview } from './view-model.js';

/** Figures reach the page every 1-2 s; the page's polling fallback uses the same pace. */
export const EVENT_INTERVAL_MS = 1500;
/** Tells EventSource how soon to reconnect after the dashboard restarts. */
const RETRY_MS = 2000;
/** Open streams at once: a few tabs each; more are refused with 503 (the page then polls). */
export const MAX_STREAMS = 16;
/**
 * What a stream that does not read may have queued before it is dropped: frames are built
 * once per tick for everyone, so a client that stops reading would otherwise keep each one in
 * the supervisor's memory for as long as it holds the connection.
 */
export const MAX_STREAM_QUEUE_BYTES = 256 * 1024;

export interface EventHub {
  add(res: ServerResponse): void;
  /** False when MAX_STREAMS are open. */
  hasRoom(): boolean;
  /** Ends every stream, so that server.close() is not held open by them. */
  closeAll(): void;
  size(): number;
}

export async function buildFrame(ctx: DashboardContext): Promise<string> {
  const state = await ctx.snapshots.get();
  const apps = buildApps(state, ctx.history, ctx.now());
  ctx.historyHealth.note(apps.historyUnavailable);
  const payload = { overview: buildOverview(state, ctx.history !== null), apps };
  return `event: update\ndata: ${JSON.stringify(payload)}\n\n`;
}

export function createEventHub(ctx: DashboardContext, log: FastifyBaseLogger): EventHub {
  const clients = new Set<ServerResponse>();
  let timer: NodeJS.Timeout | null = null;
  let ticking = false;

  async function tick(only?: ServerResponse): Promise<void> {
    // A slow runtime read must not pile up shared ticks; a newcomer's first frame is its own.
    if (!only) {
      if (ticking) return;
      ticking = true;
    }
    try {
      const frame = await buildFrame(ctx);
      for (const res of only ? [only] : clients) {
        if (res.writableEnded) continue;
        if (res.writableLength > MAX_STREAM_QUEUE_BYTES) {
          log.warn(`dashboard event stream dropped: the client read nothing while ${res.writableLength} bytes queued`);
          res.destroy();
          continue;
        }
        res.write(frame);
      }
    } catch (err) {
      log.error({ err }, 'dashboard event frame failed');
    } finally {
      if (!only) ticking = false;
    }
  }

  function remove(res: ServerResponse): void {
    clients.delete(res);
    if (clients.size === 0 && timer) {
      clearInterval(timer);
      timer = null;
    }
  }

  return {
    add(res) {
      clients.add(res);
      res.on('close', () => remove(res));
      res.write(`retry: ${RETRY_MS}\n\n`);
      void tick(res); // the first frame at once, not after a full interval
      timer ??= setInterval(() => void tick(), EVENT_INTERVAL_MS);
    },
    hasRoom: () => clients.size < MAX_STREAMS,
    closeAll() {
      for (const res of clients) res.end();
      clients.clear();
      if (timer) clearInterval(timer);
      timer = null;
    },
    size: () => clients.size,
  };
}
