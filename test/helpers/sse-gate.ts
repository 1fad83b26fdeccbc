/**
 * @module sse-gate
 * /events?gate=<id>: after the first event the app waits until its client says it has that event
 * (openSseGate), so that "streamed, not buffered" is a matter of order, not of a clock: a front
 * end that buffers holds the first event until the end, the gate stays shut, and the app goes on
 * only after SSE_GATE_TIMEOUT_MS, which the check sees (sseGateOpened). Apps run in the test's
 * process, so the gates are a plain map.
 */
import { setTimeout as delay } from 'node:timers/promises';

/** The pace of an ungated stream's events. */
const SSE_INTERVAL_MS = 400;
const SSE_GATE_TIMEOUT_MS = 20_000;
const sseGates = new Map<string, { opened: boolean; open: () => void; wait: Promise<void> }>();

function sseGate(id: string): { opened: boolean; open: () => void; wait: Promise<void> } {
  let gate = sseGates.get(id);
  if (!gate) {
    let open = (): void => {};
    const wait = new Promise<void>((resolve) => (open = resolve));
    const created = { opened: false, wait, open: () => { created.opened = true; open(); } };
    sseGates.set(id, created);
    gate = created;
  }
  return gate;
}

/** The client of /events?gate=<id> has the first event. */
export function openSseGate(id: string): void {
  sseGate(id).open();
}

/** Whether the app went on past its first event because the client had it (not by its timeout). */
export function sseGateOpened(id: string): boolean {
  const opened = sseGates.get(id)?.opened ?? false;
  sseGates.delete(id);
  return opened;
}

/** Before event `i`: the gate after the first event when there is one, else SSE_INTERVAL_MS. */
export async function beforeSseEvent(i: number, gate: string | undefined): Promise<void> {
  if (i === 1) return;
  if (i === 2 && gate) {
    const timer = delay(SSE_GATE_TIMEOUT_MS, undefined, { ref: false });
    await Promise.race([sseGate(gate).wait, timer]);
    return;
  }
  await delay(SSE_INTERVAL_MS);
}
