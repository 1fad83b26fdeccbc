/**
 * @module bench
 * `npm run bench`: our runtime against the alternatives behind nginx, side by side in one run,
 * with the timing store on vs off and worker processes against in-process; writes
 * docs/benchmarks.md. The pieces live in scripts/bench/. Loopback only; every
 * run is bounded in time and count.
 *
 *   npm run bench                      full run (~15 min), files the results in docs/benchmarks.md
 *   npm run bench -- --quick           a few seconds per target, prints only (add --doc to file it)
 *   npm run bench -- --profile         the full path under node --cpu-prof, top self-time frames
 *            --profile-target ours-fetch (another of our backends)
 *   npm run bench -- --syscalls        system calls per request of each backend, by strace -c
 *            --http (the HTTP keep-alive targets instead)
 *   npm run bench -- --workers         only the worker-process section (~4 min; --quick
 *                                      ~1 min); prints, and files it in the doc only with --doc
 *            --hang-timeouts 2000,1000,30000 (the hangTimeouts to time; default 2000,1000)
 *   npm run bench -- --http            only the HTTP-listener section (~4 min; --quick
 *                                      ~1 min): node:http, our protocol: 'http' app and our SCGI
 *                                      path behind one nginx; files it in the doc only with --doc
 *            --http-diagnose (adds node:http with our listener's server options, and ours with the
 *            store off); --http-scratch dist-copy/bin/dragon-on-wheels.js (adds ours from another
 *            build, to try a change); --scgi-scratch old/dist/bin/dragon-on-wheels.js (the SCGI full
 *            path from another build); --only proxy-keepalive,ours-http (a subset, development);
 *            --http-alone (one backend at a time, each with a fresh nginx: steadier on a shared machine)
 *   npm run bench -- --native          only the native I/O section (~9 min; --quick ~2 min):
 *                                      native vs node:net vs uWSGI, long-poll memory, system calls;
 *                                      files it in the doc only with --doc (--skip-syscalls, --long-poll-pairs N)
 *   npm run bench -- --peers           only the section against PM2 cluster, node:cluster, plain node:http and
 *                                      Passenger (~20 min; --quick ~5 min); installs PM2 into the temp
 *                                      dir and Passenger with apt-get when missing; files it only with --doc
 *   options: --rounds N --seconds S --pairs N --no-doc --skip-long-poll --skip-workers --skip-http --top N
 *            --only floor,ours-full (development: a subset of the targets, never filed in the doc)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { builtRuntimeExists, REPO } from './bench/backends.js';
import { runLongPoll, type LongPollResult } from './bench/long-poll.js';
import type { CaseResult } from './bench/parser-micro.js';
import { checkTools, describeMachine, INSTALL_HINT, type Machine } from './bench/preflight.js';
import { runProfile } from './bench/profile-run.js';
import { countSyscalls, formatSyscalls, HTTP_SYSCALL_TARGETS } from './bench/syscall-count.js';
import type { TargetId } from './bench/targets.js';
import { formatRun, verdicts, writeDoc, type BenchResults } from './bench/report.js';
import type { Verdict } from './bench/verdict.js';
import { runLoad } from './bench/run-load.js';
import { runWorkers } from './bench/run-workers.js';
import { runHttp } from './bench/http-load.js';
import { formatHttpRun, httpVerdicts, verdictLines, type HttpResults } from './bench/http-report.js';
import { formatWorkersRun, workersVerdicts, type WorkersResults } from './bench/workers-report.js';
import { runNative } from './bench/native-load.js';
import { formatNativeRun, nativeVerdicts } from './bench/native-report.js';
import { runPeers } from './bench/peers-load.js';
import { allCells, filePeersSection, formatPeersRun, peersVerdicts } from './bench/peers-report.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    'profile-target': { type: 'string' },
    syscalls: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    seconds: { type: 'string' },
    pairs: { type: 'string' },
    doc: { type: 'boolean', default: false },
    'no-doc': { type: 'boolean', default: false },
    'skip-long-poll': { type: 'boolean', default: false },
    workers: { type: 'boolean', default: false },
    'hang-timeouts': { type: 'string' },
    http: { type: 'boolean', default: false },
    'http-diagnose': { type: 'boolean', default: false },
    'http-scratch': { type: 'string' },
    'scgi-scratch': { type: 'string' },
    'http-alone': { type: 'boolean', default: false },
    'skip-workers': { type: 'boolean', default: false },
    'skip-http': { type: 'boolean', default: false },
    native: { type: 'boolean', default: false },
    peers: { type: 'boolean', default: false },
    'skip-syscalls': { type: 'boolean', default: false },
    'long-poll-pairs': { type: 'string' },
    top: { type: 'string', default: '20' },
    only: { type: 'string', default: '' },
  },
});

const quick = values.quick;
// Full: 10 targets × 3 rounds × 10 s + 6 store pairs × 2 × 8 s + warm-up ≈ 7 min of load, then
// the worker-process section ≈ 3-4 min (scripts/bench/run-workers.ts), then the HTTP-listener
// section: 6 targets × 3 rounds × 10 s + warm-up ≈ 4 min (scripts/bench/http-load.ts).
// --native: 10 targets × 5 rounds × 8 s + warm-up ≈ 7.5 min of load, then long-poll and strace ≈ 1 min
// (five shorter rounds: its ratios are paired per round, and more pairs steady their median).
const rounds = Number(values.rounds ?? (quick ? 1 : values.native ? 5 : 3));
// --peers: 13 targets × 4 workloads per round, so shorter cells.
const secondsPerRun = Number(values.seconds ?? (quick ? 3 : values.native ? 8 : values.peers ? 6 : 10));
const storePairs = Number(values.pairs ?? (quick ? 1 : 6));
const warmupSeconds = quick ? 1 : 2;
const CONNECTIONS = 32;
for (const [name, n] of [['rounds', rounds], ['seconds', secondsPerRun], ['pairs', storePairs]] as const) {
  if (!Number.isInteger(n) || n < (name === 'pairs' ? 0 : 1) || n > 120) {
    console.error(`--${name} must be a whole number from ${name === 'pairs' ? 0 : 1} to 120`);
    process.exit(2);
  }
}

const hangTimeoutsMs = values['hang-timeouts']?.split(',').map(Number);
if (hangTimeoutsMs?.some((ms) => !Number.isInteger(ms) || ms < 100 || ms > 120_000)) {
  console.error('--hang-timeouts takes a comma-separated list of milliseconds from 100 to 120000');
  process.exit(2);
}

const tools = checkTools();
const missing = tools.filter((t) => !t.ok);
if (missing.length > 0) {
  console.error(`missing: ${missing.map((t) => t.name).join(', ')}. On Debian or Ubuntu:\n  ${INSTALL_HINT}`);
  process.exit(1);
}
if (!builtRuntimeExists()) {
  console.error('dist/ is missing: run `npm run build` first (npm run bench does).');
  process.exit(1);
}

const started = performance.now();
const commandLine = (): string => {
  const argv = process.argv.slice(2).join(' ');
  return `npm run bench${argv ? ` -- ${argv}` : ''}`;
};
const log = (line: string): void => console.log(`[${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}`);
const dir = mkdtempSync(join(tmpdir(), 'dow-bench-'));
process.once('SIGINT', () => {
  rmSync(dir, { recursive: true, force: true });
  process.exit(130); // the exit hook in bench/processes.ts kills every process we started
});

/**
 * The end of a section run alone (--native, --http, --workers): the run printed with its verdicts,
 * the raw figures kept in the temp dir, and, like --quick, the run filed in the doc only when
 * asked for (`file`, from --doc).
 */
function finishSection(name: string, machine: Machine, run: string, figures: unknown, verdicts: readonly Verdict[], file: boolean): void {
  const raw = join(tmpdir(), `dow-bench-${name}-${machine.date.replace(/[:]/g, '-')}.json`);
  writeFileSync(raw, JSON.stringify(figures, (_key, value: unknown) => (value instanceof Map ? Object.fromEntries(value) : value), 2));
  console.log(`\n${run}`);
  console.log(verdictLines(verdicts).join('\n'));
  console.log(`raw figures: ${raw}`);
  if (file) {
    writeDoc(join(REPO, 'docs', 'benchmarks.md'), run);
    console.log('written to docs/benchmarks.md');
  }
  const failed = verdicts.filter((v) => v.met === false).length;
  if (failed > 0) console.log(`${failed} target(s) not met (see the table above)`);
}

try {
  if (values.profile) {
    const summary = await runProfile({
      dir, seconds: Number(values.seconds ?? 10), connections: CONNECTIONS, top: Number(values.top),
      keepDir: join(tmpdir(), 'dow-bench-profiles'), log,
      ...(values['profile-target'] ? { targetId: values['profile-target'] as TargetId } : {}),
    });
    console.log(`\n${summary}`);
  } else if (values.native) {
    const machine = describeMachine(tools);
    const longPollPairs = values['skip-long-poll'] ? 0 : Number(values['long-poll-pairs'] ?? (quick ? 1 : 3));
    if (!Number.isInteger(longPollPairs) || longPollPairs < 0 || longPollPairs > 10) {
      console.error('--long-poll-pairs must be a whole number from 0 to 10');
      process.exit(2);
    }
    const native = await runNative({ dir, rounds, secondsPerRun, warmupSeconds, connections: CONNECTIONS, longPollPairs, syscallSeconds: values['skip-syscalls'] ? 0 : quick ? 2 : 4, log });
    const run = formatNativeRun(native, machine, commandLine(), (performance.now() - started) / 1000, quick);
    finishSection('native', machine, run, native, nativeVerdicts(native), values.doc && !values['no-doc']);
  } else if (values.peers) {
    const machine = describeMachine(tools);
    const peers = await runPeers({ dir, rounds, secondsPerRun, warmupSeconds, log });
    const run = formatPeersRun(peers, machine, commandLine(), (performance.now() - started) / 1000, quick);
    // The section is replaced, not stacked: finishSection's writer is for dated runs.
    finishSection('peers', machine, run, { ...peers, cells: allCells(peers) }, peersVerdicts(peers), false);
    if (values.doc && !values['no-doc']) {
      const doc = join(REPO, 'docs', 'benchmarks.md');
      writeFileSync(doc, filePeersSection(readFileSync(doc, 'utf8'), run));
      console.log('written to docs/benchmarks.md');
    }
  } else if (values.syscalls) {
    const rows = await countSyscalls({ dir, seconds: Number(values.seconds ?? 4), connections: CONNECTIONS, log, ...(values.http ? { targets: HTTP_SYSCALL_TARGETS } : {}) });
    console.log(`\n${formatSyscalls(rows, `npm run bench -- --syscalls${values.http ? ' --http' : ''}`)}`);
  } else if (values.http) {
    const machine = describeMachine(tools);
    const http = await runHttp({ dir, rounds, secondsPerRun, warmupSeconds, connections: CONNECTIONS, diagnose: values['http-diagnose'], only: values.only.split(',').filter(Boolean), alone: values['http-alone'], log,
      ...(values['http-scratch'] === undefined ? {} : { scratchCli: resolve(values['http-scratch']) }),
      ...(values['scgi-scratch'] === undefined ? {} : { scgiScratchCli: resolve(values['scgi-scratch']) }),
    });
    const run = formatHttpRun(http, machine, commandLine(), (performance.now() - started) / 1000, quick);
    // Never a subset or a scratch build.
    finishSection('http', machine, run, http, httpVerdicts(http), values.doc && !values['no-doc'] && values.only === '' && values['http-scratch'] === undefined && values['scgi-scratch'] === undefined);
  } else if (values.workers) {
    const machine = describeMachine(tools);
    const workers = await runWorkers({ dir, rounds, secondsPerRun, warmupSeconds, quick, log, ...(hangTimeoutsMs ? { hangTimeoutsMs } : {}) });
    const run = formatWorkersRun(workers, machine, commandLine(), (performance.now() - started) / 1000, quick);
    finishSection('workers', machine, run, workers, workersVerdicts(workers), values.doc && !values['no-doc']);
  } else {
    const machine = describeMachine(tools);
    const load = await runLoad({ dir, rounds, secondsPerRun, warmupSeconds, storePairs, pairSeconds: quick ? secondsPerRun : Math.min(secondsPerRun, 8), connections: CONNECTIONS, only: values.only.split(',').filter(Boolean), log });

    const longPoll: LongPollResult[] = [];
    let longPollError: string | null = values['skip-long-poll'] ? 'skipped (--skip-long-poll)' : null;
    if (!values['skip-long-poll']) {
      try {
        for (const held of [1000, 10_000]) {
          const r = await runLongPoll(held, dir);
          longPoll.push(r);
          log(`long-poll ${held}: RSS ${r.idleRssMiB.toFixed(1)} -> ${r.heldRssMiB.toFixed(1)} MiB, ${r.answered200} answered, ${r.errors} errors`);
        }
      } catch (err) {
        longPollError = (err as Error).message;
        log(`long-poll failed: ${longPollError}`);
      }
    }

    let workers: WorkersResults | null = null;
    if (!values['skip-workers'] && values.only === '') workers = await runWorkers({ dir, rounds, secondsPerRun, warmupSeconds, quick, log, ...(hangTimeoutsMs ? { hangTimeoutsMs } : {}) });

    let http: HttpResults | null = null;
    if (!values['skip-http'] && values.only === '') {
      log('HTTP listeners (issue 14)');
      try {
        http = await runHttp({ dir, rounds, secondsPerRun, warmupSeconds, connections: CONNECTIONS, diagnose: false, only: [], log });
      } catch (err) {
        log(`HTTP listeners failed: ${(err as Error).message.split('\n')[0]}`);
      }
    }

    log('parser micro-benchmark');
    // A process of its own, so the load run's heap and JIT state do not colour it.
    const parser = JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', join(REPO, 'scripts', 'bench', 'parser-micro.ts'), '--json', '--seconds', quick ? '0.5' : '2'], {
      cwd: REPO, encoding: 'utf8', timeout: 60_000,
    })) as CaseResult[];

    const results: BenchResults = {
      mode: quick ? 'quick' : 'full',
      command: commandLine(),
      wrkCommand: load.wrkCommand,
      secondsPerRun,
      rounds,
      elapsedS: (performance.now() - started) / 1000,
      machine,
      summaries: load.summaries,
      storePairs: load.storePairs,
      storeChecks: load.storeChecks,
      longPoll,
      longPollError,
      parser,
      workers,
      http,
      commands: [...load.commands, ...(http?.commands ?? [])],
    };
    const run = formatRun(results);
    const raw = join(tmpdir(), `dow-bench-${machine.date.replace(/[:]/g, '-')}.json`);
    writeFileSync(raw, JSON.stringify({ ...results, measurements: load.measurements, nginxConfig: load.nginxConfig }, null, 2));
    console.log(`\n${run}`);
    console.log(`raw figures: ${raw}`);
    if ((!quick || values.doc) && !values['no-doc'] && values.only === '') {
      writeDoc(join(REPO, 'docs', 'benchmarks.md'), run);
      console.log('written to docs/benchmarks.md');
    }
    console.log(verdictLines(verdicts(results)).join('\n'));
    const failed = verdicts(results).filter((v) => v.met === false).length;
    if (failed > 0) console.log(`${failed} target(s) not met (see the table above)`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
