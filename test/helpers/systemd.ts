/**
 * @module systemd
 * What the systemd tests need besides the server: a real AF_UNIX datagram socket that receives
 * sd_notify messages (a python3 listener, as Node's dgram has none, reporting each message with
 * the sender's pid from SCM_CREDENTIALS), and the CLI started with a chosen environment.
 */
import type { TestContext } from 'node:test';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI, TSX } from './cli-process.js';
import { waitUntil } from './wait.js';

export { CLI, cliArgs, runProcess, TSX } from './cli-process.js';

export const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

const LISTENER = `
import json, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
print(json.dumps({"listening": True}), flush=True)
while True:
    data, anc, flags, addr = s.recvmsg(4096, socket.CMSG_SPACE(12))
    pid = None
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack("iII", payload[:12])[0]
    print(json.dumps({"pid": pid, "text": data.decode()}), flush=True)
`;

export interface NotifyMessage {
  /** The sender's pid as the kernel reports it (what systemd checks for NotifyAccess=main). */
  pid: number | null;
  fields: Map<string, string>;
  at: number;
}

export interface NotifyListener {
  messages: NotifyMessage[];
  /** Resolves with the first message from index `from` on that has `key`, or throws after `timeoutMs`. */
  next(key: string, from: number, timeoutMs?: number): Promise<{ message: NotifyMessage; index: number }>;
}

export async function listenForNotify(t: TestContext, path: string): Promise<NotifyListener> {
  const child = spawn('python3', ['-c', LISTENER, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => child.kill('SIGKILL'));
  const messages: NotifyMessage[] = [];
  let listening = false;
  let buffered = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    let nl;
    while ((nl = buffered.indexOf('\n')) !== -1) {
      const line = JSON.parse(buffered.slice(0, nl)) as { listening?: boolean; pid?: number | null; text?: string };
      buffered = buffered.slice(nl + 1);
      if (line.listening) listening = true;
      else {
        const fields = new Map<string, string>();
        for (const l of (line.text ?? '').split('\n')) {
          const eq = l.indexOf('=');
          if (eq > 0) fields.set(l.slice(0, eq), l.slice(eq + 1));
        }
        messages.push({ pid: line.pid ?? null, fields, at: performance.now() });
      }
    }
  });
  await waitUntil('the python3 notify listener started', () => {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}`);
    return listening;
  }, { intervalMs: 10 });
  return {
    messages,
    async next(key, from, timeoutMs = 30_000) {
      return waitUntil(`a ${key} message after #${from}`, () => {
        const index = messages.findIndex((m, i) => i >= from && m.fields.has(key));
        return index === -1 ? undefined : { message: messages[index] as NotifyMessage, index };
      }, { timeoutMs, intervalMs: 10 }).catch((err: Error) => {
        throw new Error(`${err.message}; got ${JSON.stringify(messages.map((m) => [...m.fields]))}`);
      });
    },
  };
}

/** Which of a process's environment variables match `pattern`, read from /proc (its workers'). */
export async function environKeys(pid: number, pattern: RegExp): Promise<string[]> {
  const { readFile } = await import('node:fs/promises');
  const text = await readFile(`/proc/${pid}/environ`, 'utf8');
  return text.split('\0').map((kv) => kv.slice(0, kv.indexOf('='))).filter((k) => pattern.test(k));
}

/**
 * Why a test that runs the server as nobody (65534) cannot run here, or false: it must be root,
 * and nobody must be able to read this checkout (a clone under /root is not).
 */
export function cannotRunAsNobody(): string | false {
  if (process.getuid?.() !== 0) return 'needs root (the server switches users)';
  const files = [CLI, fileURLToPath(TSX), join(FIXTURES, 'whoami-app.mjs')];
  const probe = spawnSync(process.execPath, ['-e', `for (const f of ${JSON.stringify(files)}) require('node:fs').accessSync(f, require('node:fs').constants.R_OK)`], { uid: 65534, gid: 65534, timeout: 10_000 });
  return probe.status === 0 ? false : `user nobody cannot read this checkout (${files[0]}); clone it where others may read it`;
}
