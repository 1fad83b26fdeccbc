/**
 * @module exposition
 * Metric families to the Prometheus text format (0.0.4) or OpenMetrics 1.0 text. Pure: families
 * in, text out.
 */

export type Labels = Readonly<Record<string, string>>;
export interface Sample {
  labels: Labels;
  value: number;
}
export interface HistogramSample {
  labels: Labels;
  /** Cumulative counts: [upper bound in seconds, observations <= it], ascending; +Inf is added. */
  buckets: ReadonlyArray<readonly [number, number]>;
  count: number;
  /** Sum of observations, seconds. */
  sum: number;
}

/**
 * `name` is the family name: a counter's samples get `_total` appended (`dragon_requests` ->
 * `dragon_requests_total`), an info family's `_info`, as both formats want.
 */
export type Family =
  | { name: string; help: string; type: 'counter' | 'gauge' | 'info'; samples: readonly Sample[] }
  | { name: string; help: string; type: 'histogram'; samples: readonly HistogramSample[] };

export type ExpositionFormat = 'prometheus' | 'openmetrics';

export const CONTENT_TYPES: Record<ExpositionFormat, string> = {
  prometheus: 'text/plain; version=0.0.4; charset=utf-8',
  openmetrics: 'application/openmetrics-text; version=1.0.0; charset=utf-8',
};

/**
 * OpenMetrics when the scraper lists it with a non-zero quality (Prometheus does, first), the
 * classic text format otherwise: curl, old scrapers and `promtool check metrics` get that.
 */
export function negotiateFormat(accept: string | undefined): ExpositionFormat {
  for (const part of (accept ?? '').split(',')) {
    const [type, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    if (type !== 'application/openmetrics-text') continue;
    const q = params.find((p) => p.startsWith('q='));
    if (q === undefined || Number(q.slice(2)) > 0) return 'openmetrics';
  }
  return 'prometheus';
}

export function formatFamilies(families: readonly Family[], format: ExpositionFormat): string {
  let out = '';
  for (const family of families) {
    // In 0.0.4 the TYPE line names the samples (`x_total`); in OpenMetrics it names the family.
    const declared = format === 'prometheus' && family.type === 'counter' ? `${family.name}_total`
      : format === 'prometheus' && family.type === 'info' ? `${family.name}_info`
      : family.name;
    const type = format === 'prometheus' && family.type === 'info' ? 'gauge' : family.type;
    out += `# HELP ${declared} ${escapeHelp(family.help)}\n# TYPE ${declared} ${type}\n`;
    if (family.type === 'histogram') {
      for (const s of family.samples) {
        for (const [le, count] of s.buckets) out += sampleLine(`${family.name}_bucket`, { ...s.labels, le: formatNumber(le) }, count);
        out += sampleLine(`${family.name}_bucket`, { ...s.labels, le: '+Inf' }, s.count);
        out += sampleLine(`${family.name}_count`, s.labels, s.count);
        out += sampleLine(`${family.name}_sum`, s.labels, s.sum);
      }
      continue;
    }
    const suffix = family.type === 'counter' ? '_total' : family.type === 'info' ? '_info' : '';
    for (const s of family.samples) out += sampleLine(family.name + suffix, s.labels, s.value);
  }
  return out;
}

function sampleLine(name: string, labels: Labels, value: number): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return `${name}${pairs.length > 0 ? `{${pairs.join(',')}}` : ''} ${formatNumber(value)}\n`;
}

export function formatNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}

// Both formats: a label value escapes \, " and newline; HELP text escapes \ and newline.
function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}
