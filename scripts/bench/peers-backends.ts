/**
 * @module peers-backends
 * The backends of `npm run bench -- --peers`, each serving scripts/bench/apps/peers-app.cjs: ours
 * (SCGI and `protocol: 'http'`), PM2 in cluster mode (installed from npm into the run's temp dir,
 * its own PM2_HOME, `pm2 kill` at the end), Node's cluster module, plain node:http, and Phusion
 * Passenger inside an Apache of ours. A peer that cannot be had is a skip with its reason.
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CLI, oursConfig, REPO } from './backends.js';
import { processTree } from './proc-stats.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { canConnect, freePort, startProcess, waitReady, type Started } from './processes.js';

const run = promisify(execFile);

export const PEERS_APP = join(REPO, 'scripts', 'bench', 'apps', 'peers-app.cjs');
export const PEERS_SERVER = join(REPO, 'scripts', 'bench', 'apps', 'peers-server.cjs');
/** Debian's passenger and libapache2-mod-passenger (6.0.x on bookworm). */
export const PASSENGER_MODULE = '/usr/lib/apache2/modules/mod_passenger.so';
export const PASSENGER_ROOT = '/usr/lib/ruby/vendor_ruby/phusion_passenger/locations.ini';
export const APACHE_BINARY = '/usr/sbin/apache2';
const APACHE_MODULES_DIR = '/usr/lib/apache2/modules';
const INSTALL_TIMEOUT_MS = 600_000;

/**
 * Our apps' `threads` in this run: the wait workload holds 200 requests at once, and our default
 * limit (threads 10, queue 100) would measure the limiter, not the server; the peers have none.
 */
export const OURS_THREADS = 256;

export type PeerKind = 'ours-scgi' | 'ours-http' | 'pm2' | 'cluster' | 'node-http' | 'passenger';

export interface PeerBackend {
  id: string;
  kind: PeerKind;
  instances: number;
  /** 127.0.0.1:port for a front end to reach; null for Passenger, which lives inside Apache. */
  address: string | null;
  /** Where each of its app processes files its /cpu figures (peers-app.cjs). */
  statsDir: string;
  /** Every process of the backend: the trees of these roots (PM2's daemon, our supervisor, Passenger's watchdog). */
  roots(): number[];
  command: string;
  stop(): Promise<void>;
}

export interface Skip {
  what: string;
  reason: string;
}

/** A folder for one backend, searchable by anyone: Passenger runs a root-owned app as nobody. */
function backendDir(dir: string, id: string): { root: string; statsDir: string } {
  const root = join(dir, id);
  const statsDir = join(root, 'cpu-stats');
  mkdirSync(statsDir, { recursive: true });
  chmodSync(root, 0o755);
  chmodSync(statsDir, 0o777);
  return { root, statsDir };
}

/** The entry files name absolute paths, so every launcher (PM2, Passenger, our loader) runs the same app. */
function writeEntry(file: string, body: string): string {
  writeFileSync(file, `'use strict';\n// Written by scripts/bench/peers-backends.ts for one run.\n${body}\n`);
  chmodSync(file, 0o644);
  return file;
}

const appExpr = (statsDir: string): string => `require(${JSON.stringify(PEERS_APP)}).createPeersApp(${JSON.stringify(statsDir)})`;

/** An entry running the app under plain node:http on `port` (PM2 and Passenger take over its listen()). */
function httpEntry(root: string, statsDir: string, port: number): string {
  return writeEntry(join(root, 'server.cjs'), `require(${JSON.stringify(PEERS_SERVER)}).serveHttp(${appExpr(statsDir)}, ${port});`);
}

export async function startOurs(dir: string, kind: 'ours-scgi' | 'ours-http', workers: number): Promise<PeerBackend> {
  const id = `${kind}-${workers}`;
  const { root, statsDir } = backendDir(dir, id);
  const module = writeEntry(join(root, 'app.cjs'), `module.exports = ${appExpr(statsDir)};`);
  const port = await freePort();
  const statsPort = await freePort();
  const config = oursConfig({
    listen: `127.0.0.1:${port}`, statsPort, storePath: join(root, 'store.db'), module, type: 'node', workers, threads: OURS_THREADS,
    ...(kind === 'ours-http' ? { protocol: 'http' as const } : {}),
  });
  const configFile = join(root, 'config.json');
  writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`);
  const started = startProcess({ name: id, command: process.execPath, args: [CLI, 'serve', configFile], env: { ...process.env, NODE_ENV: 'production' } });
  await waitReady(started, [{ host: '127.0.0.1', port }, { host: '127.0.0.1', port: statsPort }], 30_000);
  return {
    id, kind, instances: workers, address: `127.0.0.1:${port}`, statsDir, roots: () => [started.pid],
    command: `node dist/bin/dragon-on-wheels.js serve config.json (${kind === 'ours-http' ? "protocol 'http'" : 'SCGI'}, workers ${workers}, threads ${OURS_THREADS}, store on)`,
    stop: () => started.stop(),
  };
}

export async function startNodeHttp(dir: string): Promise<PeerBackend> {
  const { root, statsDir } = backendDir(dir, 'node-http');
  const port = await freePort();
  const started = startProcess({ name: 'node-http', command: process.execPath, args: [httpEntry(root, statsDir, port)], env: { ...process.env, NODE_ENV: 'production' } });
  await waitReady(started, [{ host: '127.0.0.1', port }]);
  return { id: 'node-http', kind: 'node-http', instances: 1, address: `127.0.0.1:${port}`, statsDir, roots: () => [started.pid], command: 'node server.cjs (node:http, scripts/bench/apps/peers-server.cjs)', stop: () => started.stop() };
}

export async function startCluster(dir: string, workers: number): Promise<PeerBackend> {
  const id = `cluster-${workers}`;
  const { root, statsDir } = backendDir(dir, id);
  const port = await freePort();
  const entry = writeEntry(join(root, 'cluster.cjs'), `require(${JSON.stringify(PEERS_SERVER)}).serveCluster(() => ${appExpr(statsDir)}, ${workers}, ${port});`);
  const started = startProcess({ name: id, command: process.execPath, args: [entry], env: { ...process.env, NODE_ENV: 'production' } });
  await waitReady(started, [{ host: '127.0.0.1', port }]);
  return { id, kind: 'cluster', instances: workers, address: `127.0.0.1:${port}`, statsDir, roots: () => [started.pid], command: `node cluster.cjs (node:cluster primary forking ${workers} node:http workers)`, stop: () => started.stop() };
}

/** PM2 from the npm registry into `prefix`, never a dependency of ours. Returns the pm2 binary and its version. */
export async function installPm2(prefix: string, log: (line: string) => void): Promise<{ bin: string; version: string }> {
  log(`installing PM2: npm install --prefix ${prefix} pm2@latest`);
  mkdirSync(prefix, { recursive: true });
  await run('npm', ['install', '--prefix', prefix, '--no-audit', '--no-fund', '--loglevel=error', 'pm2@latest'], { timeout: INSTALL_TIMEOUT_MS });
  const bin = join(prefix, 'node_modules', '.bin', 'pm2');
  const pkg = JSON.parse(readFileSync(join(prefix, 'node_modules', 'pm2', 'package.json'), 'utf8')) as { version: string };
  return { bin, version: pkg.version };
}

/** PM2 daemons still alive, killed even when the run dies: they are detached, out of our process groups. */
const pm2Daemons = new Set<number>();
process.once('exit', () => {
  for (const pid of pm2Daemons) {
    for (const p of processTree(pid)) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
});

/** `pm2 start server.cjs -i N`: cluster mode, with a PM2_HOME of its own (its own daemon, so its tree is this backend alone). */
export async function startPm2(dir: string, pm2: string, instances: number): Promise<PeerBackend> {
  const id = `pm2-${instances}`;
  const { root, statsDir } = backendDir(dir, id);
  const port = await freePort();
  const entry = httpEntry(root, statsDir, port);
  const env = { ...process.env, PM2_HOME: join(root, 'home'), NODE_ENV: 'production' };
  const pm2Run = (args: string[]): Promise<{ stdout: string }> => run(pm2, args, { env, timeout: 60_000 });
  await pm2Run(['start', entry, '-i', String(instances), '--name', id]);
  const daemon = Number(readFileSync(join(root, 'home', 'pm2.pid'), 'utf8').trim());
  pm2Daemons.add(daemon);
  // PM2's CLI has exited by now: poll the port (bounded) while the daemon is alive.
  const deadline = Date.now() + 30_000;
  while (!(await canConnect({ host: '127.0.0.1', port }))) {
    if (Date.now() > deadline || processTree(daemon).length === 0 || !existsSync(`/proc/${daemon}`)) throw new Error(`${id}: PM2 did not listen on ${port} within 30 s (see ${join(root, 'home', 'pm2.log')})`);
    await sleep(50);
  }
  return {
    id, kind: 'pm2', instances, address: `127.0.0.1:${port}`, statsDir, roots: () => [daemon],
    command: `PM2_HOME=… pm2 start server.cjs -i ${instances} (cluster mode; server.cjs: node:http, scripts/bench/apps/peers-server.cjs)`,
    async stop() {
      await pm2Run(['kill']).catch(() => undefined);
      for (const p of processTree(daemon)) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      pm2Daemons.delete(daemon);
    },
  };
}

/** Whether Debian's Passenger for Apache is there; when not, installs it (as root, with apt-get) and says so. */
export async function ensurePassenger(log: (line: string) => void): Promise<Skip | null> {
  if (!existsSync(APACHE_BINARY)) return { what: 'Passenger and ours behind Apache', reason: `${APACHE_BINARY} is missing (apt-get install apache2)` };
  if (existsSync(PASSENGER_MODULE) && existsSync(PASSENGER_ROOT)) return null;
  if (process.getuid?.() !== 0) return { what: 'Passenger', reason: 'not installed, and installing it needs root: apt-get install --no-install-recommends passenger libapache2-mod-passenger' };
  const install = ['install', '-y', '--no-install-recommends', '-o', 'DPkg::Lock::Timeout=300', 'passenger', 'libapache2-mod-passenger'];
  const attempt = async (): Promise<string | null> => {
    log(`installing Passenger: apt-get ${install.join(' ')}`);
    try {
      await run('apt-get', install, { timeout: INSTALL_TIMEOUT_MS, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
      return null;
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      return `${e.stderr ?? ''}${e.message}`;
    }
  };
  let failed = await attempt();
  if (failed !== null && /Unable to locate package|has no installation candidate|Failed to fetch/.test(failed)) {
    // The package lists are missing or stale: refresh them once (another apt may hold the lock: wait for it).
    log('apt-get update (the package lists do not have Passenger)');
    await run('apt-get', ['-o', 'DPkg::Lock::Timeout=300', 'update'], { timeout: INSTALL_TIMEOUT_MS }).catch(() => undefined);
    failed = await attempt();
  }
  if (failed !== null) return { what: 'Passenger', reason: `apt-get install failed: ${failed.split('\n').filter((l) => /^E:/.test(l))[0] ?? failed.split('\n')[0]}` };
  if (!existsSync(PASSENGER_MODULE)) return { what: 'Passenger', reason: `installed, but ${PASSENGER_MODULE} is missing` };
  return null;
}

export async function passengerVersion(): Promise<string> {
  const { stdout } = await run('passenger-config', ['--version'], { timeout: 10_000 }).catch(() => ({ stdout: '?' }));
  return /(\d+\.\d+\.\d+)/.exec(stdout)?.[1] ?? '?';
}

export interface ApacheSite {
  name: string;
  port: number;
  /** ours: ProxyPass to our SCGI app; passenger: a Passenger app with `instances` processes. */
  kind: { proxyScgi: string } | { passenger: { root: string; startupFile: string; instances: number } };
}

const APACHE_MODULES = [
  ['mpm_event_module', 'mod_mpm_event.so'],
  ['authz_core_module', 'mod_authz_core.so'],
  ['proxy_module', 'mod_proxy.so'],
  ['proxy_scgi_module', 'mod_proxy_scgi.so'],
] as const;

/**
 * One Apache (mpm_event, Debian's defaults otherwise) for an instance count: Passenger's app and
 * our SCGI app side by side. Passenger's pool is server-wide, so each count gets its own Apache
 * with the pool pinned to it (min = max = N processes).
 */
export function buildApacheConfig(dir: string, sites: readonly ApacheSite[], passengerInstances: number): string {
  const usesPassenger = sites.some((s) => 'passenger' in s.kind);
  const loads = [...APACHE_MODULES, ...(usesPassenger ? [['passenger_module', 'mod_passenger.so'] as const] : [])]
    .map(([name, file]) => `LoadModule ${name} ${join(APACHE_MODULES_DIR, file)}`).join('\n');
  const passenger = usesPassenger ? `PassengerRoot ${PASSENGER_ROOT}
PassengerDefaultRuby /usr/bin/ruby
PassengerNodejs ${process.execPath}
PassengerInstanceRegistryDir ${dir}
PassengerMaxPoolSize ${passengerInstances}
PassengerMaxInstancesPerApp ${passengerInstances}
# Loopback only: no call home for security updates or telemetry.
PassengerDisableSecurityUpdateCheck on
PassengerDisableAnonymousTelemetry on
PassengerFriendlyErrorPages off
` : '';
  const vhosts = sites.map((s) => {
    if ('proxyScgi' in s.kind) return `<VirtualHost 127.0.0.1:${s.port}>\n  # ${s.name}\n  ProxyPass "/" "scgi://${s.kind.proxyScgi}/"\n</VirtualHost>\n`;
    const p = s.kind.passenger;
    return `<VirtualHost 127.0.0.1:${s.port}>
  # ${s.name}
  DocumentRoot ${join(p.root, 'public')}
  PassengerAppRoot ${p.root}
  PassengerAppType node
  PassengerStartupFile ${p.startupFile}
  PassengerMinInstances ${p.instances}
  PassengerPreStart http://127.0.0.1:${s.port}/
  <Directory ${join(p.root, 'public')}>
    Require all granted
  </Directory>
</VirtualHost>
`;
  }).join('');
  return `# Written by scripts/bench/peers-backends.ts for one benchmark run; everything stays in ${dir}.
ServerRoot "${dir}"
ServerName 127.0.0.1
${sites.map((s) => `Listen 127.0.0.1:${s.port}`).join('\n')}
PidFile "${join(dir, 'apache2.pid')}"
DefaultRuntimeDir "${dir}"
ErrorLog "${join(dir, 'error.log')}"
LogLevel warn
${loads}
# Apache refuses to serve as root; its workers (and Passenger's apps) run as nobody.
User nobody
Group nogroup
KeepAliveTimeout 65
MaxKeepAliveRequests 0
# A fixed set of children: every one started up front and none retired when idle, so 200 clients
# each get a thread, and the front's CPU (summed over live processes) loses no exited child.
StartServers 4
ServerLimit 4
ThreadsPerChild 64
MaxRequestWorkers 256
MinSpareThreads 64
MaxSpareThreads 256
MaxConnectionsPerChild 0
${passenger}
${vhosts}`;
}

export interface RunningApache {
  process: Started;
  config: string;
  /** Passenger's watchdog (and under it the core and the apps), once it runs. */
  passengerWatchdog(): number | null;
}

export async function startApache(dir: string, sites: readonly ApacheSite[], passengerInstances: number): Promise<RunningApache> {
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  for (const s of sites) if ('passenger' in s.kind) mkdirSync(join(s.kind.passenger.root, 'public'), { recursive: true });
  const config = buildApacheConfig(dir, sites, passengerInstances);
  const file = join(dir, 'apache2.conf');
  writeFileSync(file, config);
  // -DFOREGROUND: the master stays our child, and stop() reaches its workers and Passenger's agents.
  const started = startProcess({ name: 'apache2', command: APACHE_BINARY, args: ['-DFOREGROUND', '-d', dir, '-f', file] });
  await waitReady(started, sites.map((s) => ({ host: '127.0.0.1', port: s.port })), 30_000);
  return {
    process: started,
    config,
    passengerWatchdog: () => processTree(started.pid).find((pid) => readCmdline(pid).startsWith('Passenger watchdog')) ?? null,
  };
}

export function readCmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
  } catch {
    return '';
  }
}

/** A Passenger app's processes under the watchdog: `Passenger NodeApp: <app root>`. */
export function passengerApps(watchdog: number, appRoot: string): number[] {
  return processTree(watchdog).filter((pid) => readCmdline(pid).startsWith(`Passenger NodeApp: ${appRoot}`));
}

/** Passenger's side of one Apache: the app dir with its entry, and a backend whose tree is the watchdog's. */
export async function passengerSite(dir: string, instances: number): Promise<{ backend: (apache: RunningApache) => PeerBackend; site: (port: number) => ApacheSite }> {
  const id = `passenger-${instances}`;
  const { root, statsDir } = backendDir(dir, id);
  // Passenger takes over listen(): the port is ignored.
  httpEntry(root, statsDir, await freePort());
  return {
    site: (port) => ({ name: id, port, kind: { passenger: { root, startupFile: 'server.cjs', instances } } }),
    backend: (apache) => ({
      id, kind: 'passenger', instances, address: null, statsDir,
      roots: () => {
        const w = apache.passengerWatchdog();
        return w === null ? [] : [w];
      },
      command: `Apache + Passenger ${instances === 1 ? '1 process' : `${instances} processes`} (PassengerAppType node, server.cjs: node:http, scripts/bench/apps/peers-server.cjs)`,
      stop: async () => undefined, // with its Apache
    }),
  };
}

export interface AppCpuFigures {
  requests: number;
  cpuUs: number;
}

/** Each app process's cumulative /cpu figures (pid -> figures), as peers-app.cjs files them. */
export function readAppCpu(statsDir: string): Map<number, AppCpuFigures> {
  const out = new Map<number, AppCpuFigures>();
  for (const name of readdirSync(statsDir)) {
    if (!name.endsWith('.json')) continue;
    try {
      const f = JSON.parse(readFileSync(join(statsDir, name), 'utf8')) as { pid: number; requests: number; cpuUs: number };
      out.set(f.pid, { requests: f.requests, cpuUs: f.cpuUs });
    } catch {
      /* being replaced: the rename is atomic, so this is a file that vanished */
    }
  }
  return out;
}
