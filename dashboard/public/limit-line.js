// The thread limit over the chart's window as a step line, from the limit changes the audit holds
// (an operator's, and the adaptive controller's at most every 30 s) and the limit now. Before the
// first change in the window the limit was that change's old value.

/** Points {x, y} for a stepped line; empty when nothing changed and the limit now is unknown. */
export function limitLine(markers, fromMs, toMs, currentLimit) {
  const sorted = [...markers].filter((m) => m.atMs >= fromMs && m.atMs <= toMs).sort((a, b) => a.atMs - b.atMs);
  const points = [];
  const first = sorted[0];
  const start = first ? first.oldThreads : currentLimit;
  if (start === undefined || start === null) return points;
  points.push({ x: fromMs, y: start });
  for (const m of sorted) points.push({ x: m.atMs, y: m.newThreads });
  const last = currentLimit ?? points[points.length - 1].y;
  points.push({ x: toMs, y: last });
  return points;
}
