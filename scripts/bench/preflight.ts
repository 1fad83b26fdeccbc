/**
 * @module preflight
 * Before anything starts: are nginx, wrk and uWSGI (with its Python 3 plugin) installed, and if
 * not, how to get them; then the machine and the versions the report records.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { NGINX_BINARY } from './nginx.js';
import { REPO } from './backends.js';

export const INSTALL_HINT = 'sudo apt-get install nginx wrk uwsgi-core uwsgi-plugin-python3';

export interface Tool {
  name: string;
  ok: boolean;
  version: string;
}

function run(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 10_000 });
  if (result.error) return '';
  return `${result.stdout ?? ''}${result.stderr ?? ''}`.trim();
}

export function checkTools(): Tool[] {
  const nginx = existsSync(NGINX_BINARY) ? /nginx\/(\S+)/.exec(run(NGINX_BINARY, ['-v']))?.[1] ?? '' : '';
  const wrk = /^wrk (\S+)/m.exec(run('wrk', ['-v']))?.[1] ?? '';
  const uwsgi = /^(\d+\.\d+\S*)/.exec(run('uwsgi', ['--version']))?.[1] ?? '';
  // The Python plugin is a separate package; uWSGI starts without it and then serves nothing.
  const python = uwsgi ? ['/usr/lib/uwsgi/plugins/python3_plugin.so', '/usr/lib/uwsgi/python3_plugin.so'].some((p) => existsSync(p)) : false;
  return [
    { name: 'nginx', ok: nginx !== '', version: nginx },
    { name: 'wrk', ok: wrk !== '', version: wrk },
    { name: 'uwsgi', ok: uwsgi !== '', version: uwsgi },
    { name: 'uwsgi python3 plugin', ok: python, version: python ? 'python3_plugin.so' : '' },
  ];
}

export interface Machine {
  date: string;
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  loadAtStart: string;
  node: string;
  nginx: string;
  uwsgi: string;
  wrk: string;
  python: string;
  ours: string;
  commit: string;
}

export function describeMachine(tools: Tool[]): Machine {
  const version = (name: string): string => tools.find((t) => t.name === name)?.version ?? '?';
  const model = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model ?? '?';
  let commit = '?';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO, encoding: 'utf8' }).trim();
  } catch {
    /* not a git checkout */
  }
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { name: string; version: string };
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    cpuModel: model.trim(),
    cores: cpus().length,
    memoryGiB: totalmem() / 1024 ** 3,
    kernel: release(),
    loadAtStart: loadavg().map((l) => l.toFixed(2)).join(' '),
    node: process.version,
    nginx: version('nginx'),
    uwsgi: version('uwsgi'),
    wrk: version('wrk'),
    // uWSGI's plugin links the system Python, not whatever python3 is first on PATH.
    python: /Python (\S+)/.exec(run('/usr/bin/python3', ['--version']))?.[1] ?? '?',
    ours: `${pkg.name} ${pkg.version}`,
    commit,
  };
}
