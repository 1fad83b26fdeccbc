/**
 * @module profile-summary
 * Reads a V8 .cpuprofile (from `node --cpu-prof`) and prints the top self-time frames with
 * file:line, mapped back to the TypeScript source through dist/'s source maps, plus self time by
 * area (ours, dependencies, node internals, GC). Time is per request when --requests is given.
 * Usage: node --import tsx scripts/bench/profile-summary.ts <file.cpuprofile> [--top 20] [--requests N]
 */
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

interface CallFrame {
  functionName: string;
  url: string;
  /** 0-based, as V8 reports them. */
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  /** Microseconds since the previous sample; entry i belongs to samples[i]. */
  timeDeltas: number[];
}

export interface Frame {
  name: string;
  /** repo-relative file:line (1-based), or the V8 pseudo-frame's name. */
  location: string;
  area: string;
  selfUs: number;
}

export interface ProfileSummary {
  totalUs: number;
  idleUs: number;
  frames: Frame[];
  /** Native frames (writev, close, …) charged to the nearest JavaScript caller: who pays for them. */
  callers: Frame[];
  areas: { area: string; selfUs: number }[];
}

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const mapCache = new Map<string, SourceMap | null>();

function sourceMapFor(file: string): SourceMap | null {
  if (!mapCache.has(file)) {
    let map: SourceMap | null = null;
    if (existsSync(`${file}.map`)) {
      try {
        map = new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8')));
      } catch {
        map = null;
      }
    }
    mapCache.set(file, map);
  }
  return mapCache.get(file) ?? null;
}

/** file:///…/dist/server/x.js line 12 -> server/x.ts:34 when a source map says so. */
function locate(frame: CallFrame): string {
  const { url, lineNumber, columnNumber } = frame;
  if (!url) return '';
  if (!url.startsWith('file://')) return `${url}:${lineNumber + 1}`;
  const file = fileURLToPath(url);
  const map = sourceMapFor(file);
  if (map) {
    const entry = map.findEntry(lineNumber, columnNumber) as { originalSource?: string; originalLine?: number };
    if (entry.originalSource && entry.originalLine !== undefined) {
      const original = entry.originalSource.startsWith('file://') ? fileURLToPath(entry.originalSource) : resolve(dirname(file), entry.originalSource);
      return `${relative(REPO, original)}:${entry.originalLine + 1}`;
    }
  }
  return `${relative(REPO, file)}:${lineNumber + 1}`;
}

function areaOf(frame: CallFrame, location: string): string {
  const name = frame.functionName;
  if (name === '(garbage collector)') return 'GC';
  if (name === '(idle)') return 'idle';
  if (name === '(program)') return 'V8/native (program)';
  if (frame.url.startsWith('node:')) return 'node internals';
  if (location.includes('node_modules/')) return `dependency: ${/node_modules\/((@[^/]+\/)?[^/]+)/.exec(location)?.[1] ?? '?'}`;
  if (/^(server|shared|bin|dashboard)\//.test(location)) return `ours: ${location.split('/')[0]}/`;
  if (frame.url === '') return 'native / builtins';
  return 'other';
}

export function summarizeProfile(profile: CpuProfile): ProfileSummary {
  const byId = new Map<number, ProfileNode>(profile.nodes.map((n) => [n.id, n]));
  const parentOf = new Map<number, number>();
  for (const n of profile.nodes) for (const child of n.children ?? []) parentOf.set(child, n.id);
  const callers = new Map<string, Frame>();
  const selfById = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i] as number;
    selfById.set(id, (selfById.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const frames = new Map<string, Frame>();
  const areas = new Map<string, number>();
  let totalUs = 0;
  let idleUs = 0;
  for (const [id, selfUs] of selfById) {
    const node = byId.get(id);
    if (!node) continue;
    totalUs += selfUs;
    const cf = node.callFrame;
    const location = locate(cf);
    const area = areaOf(cf, location);
    if (area === 'idle') idleUs += selfUs;
    areas.set(area, (areas.get(area) ?? 0) + selfUs);
    const name = cf.functionName || '(anonymous)';
    const key = `${name}\0${location}`;
    const frame = frames.get(key) ?? { name, location: location || cf.url || '(native)', area, selfUs: 0 };
    frame.selfUs += selfUs;
    frames.set(key, frame);
    // A native frame has no URL; V8's pseudo-frames ("(garbage collector)", …) stay as they are.
    let payer = node;
    while (payer.callFrame.url === '' && !payer.callFrame.functionName.startsWith('(') && parentOf.has(payer.id)) {
      payer = byId.get(parentOf.get(payer.id) as number) as ProfileNode;
    }
    const payerLocation = payer === node ? location : locate(payer.callFrame);
    const payerName = `${payer.callFrame.functionName || '(anonymous)'}${payer === node ? '' : ` → ${name}`}`;
    const payerKey = `${payerName}\0${payerLocation}`;
    const caller = callers.get(payerKey) ?? { name: payerName, location: payerLocation || '(native)', area: areaOf(payer.callFrame, payerLocation), selfUs: 0 };
    caller.selfUs += selfUs;
    callers.set(payerKey, caller);
  }
  return {
    totalUs,
    idleUs,
    frames: [...frames.values()].sort((a, b) => b.selfUs - a.selfUs),
    callers: [...callers.values()].sort((a, b) => b.selfUs - a.selfUs),
    areas: [...areas].map(([area, selfUs]) => ({ area, selfUs })).sort((a, b) => b.selfUs - a.selfUs),
  };
}

/** Plain-text table; percentages are of busy time (idle excluded), as that is what requests cost. */
export function formatSummary(summary: ProfileSummary, top: number, requests?: number): string {
  const busy = summary.totalUs - summary.idleUs;
  const per = (us: number): string => (requests ? `${(us / requests).toFixed(2).padStart(7)} µs/req` : '');
  const pct = (us: number): string => `${((100 * us) / busy).toFixed(1).padStart(5)}%`;
  const lines = [
    `profile: ${(summary.totalUs / 1e6).toFixed(2)} s sampled, busy ${(busy / 1e6).toFixed(2)} s, idle ${(summary.idleUs / 1e6).toFixed(2)} s` +
      (requests ? `; ${requests} requests, busy ${(busy / requests).toFixed(1)} µs/request` : ''),
    '',
    `top ${top} self-time frames (% of busy time):`,
  ];
  const frames = summary.frames.filter((f) => f.area !== 'idle').slice(0, top);
  frames.forEach((f, i) => {
    lines.push(`${String(i + 1).padStart(3)}. ${pct(f.selfUs)} ${(f.selfUs / 1000).toFixed(0).padStart(6)} ms ${per(f.selfUs)}  ${f.name}  ${f.location}`);
  });
  lines.push('', `top ${Math.min(top, 15)} with native frames charged to their JavaScript caller:`);
  summary.callers.filter((f) => f.area !== 'idle').slice(0, Math.min(top, 15)).forEach((f, i) => {
    lines.push(`${String(i + 1).padStart(3)}. ${pct(f.selfUs)} ${(f.selfUs / 1000).toFixed(0).padStart(6)} ms ${per(f.selfUs)}  ${f.name}  ${f.location}`);
  });
  lines.push('', 'self time by area:');
  for (const a of summary.areas.filter((x) => x.area !== 'idle')) {
    lines.push(`  ${pct(a.selfUs)} ${per(a.selfUs)}  ${a.area}`);
  }
  return lines.join('\n');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: 'string', default: '20' }, requests: { type: 'string' } },
  });
  const file = positionals[0];
  if (!file) {
    console.error('usage: profile-summary.ts <file.cpuprofile> [--top 20] [--requests N]');
    process.exit(2);
  }
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  console.log(formatSummary(summarizeProfile(profile), Number(values.top), values.requests ? Number(values.requests) : undefined));
}
