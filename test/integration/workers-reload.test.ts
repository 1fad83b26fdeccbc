/**
 * Reloads that always end on the newest code: a reload asked while one runs gets a follow-up
 * reload (many such requests share one), and SIGHUP reloads independent apps at once. Real
 * worker processes whose app load waits at a gate the test opens, so "while one runs" is a state
 * the test holds, not a timing it hopes for.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ReloadResult } from '../../shared/runtime-control.js';
import { gatedLoads as loads, gatedModule } from '../helpers/gated-app.js';
import { scgiRequest, type Target } from '../helpers/scgi-client.js';
import { startSupervisor } from '../helpers/supervisor.js';
import { testDir } from '../helpers/temp-dir.js';
import { waitUntil } from '../helpers/wait.js';

/** One app serving v0, whose module waits at `gate` while that file is missing when it loads. */
async function startGatedApp(t: TestContext, prefix: string) {
  const dir = await testDir(t, prefix);
  const module = join(dir, 'app.mjs');
  const log = join(dir, 'loads.log');
  const gate = join(dir, 'gate');
  await writeFile(gate, '');
  await writeFile(module, gatedModule('v0', log, gate));
  const rt = await startSupervisor(t, [{ name: 'app', module }]);
  return { module, log, gate, rt };
}

async function bodyOf(target: Target): Promise<string> {
  const res = await scgiRequest(target, { uri: '/' });
  assert.equal(res.status, 200, res.body.toString());
  return res.body.toString();
}

test('a reload asked while another runs is not dropped: a follow-up reload loads the newer code and answers that caller', async (t) => {
  const { module, log, gate, rt } = await startGatedApp(t, 'reload-follow');
  const target = rt.targets.get('app') as Target;
  assert.equal(await bodyOf(target), 'v0');

  // v1's reload is held while its new worker loads: a reload is running.
  await rm(gate);
  await writeFile(module, gatedModule('v1', log, gate));
  const first = rt.supervisor.reload('app', 'deploy v1');
  await waitUntil('the v1 reload\'s worker loading', async () => (await loads(log)).some(([tag]) => tag === 'v1'));

  await writeFile(module, gatedModule('v2', log, gate));
  const second = rt.supervisor.reload('app', 'deploy v2');
  // More requests while the same reload runs fold into that one follow-up.
  const more = Array.from({ length: 4 }, (_, i) => rt.supervisor.reload('app', `deploy v2 again ${i}`));
  const figures = await rt.figures();
  assert.equal(figures.get('app_reloads_started'), '1');
  assert.equal(figures.get('app_reloads'), '0');

  await writeFile(gate, '');
  const a = await first;
  const b = await second;
  const others: ReloadResult[] = await Promise.all(more);
  assert.ok(b.newPids.every((pid) => !a.newPids.includes(pid)), `the second caller got the first reload's pids (${a.newPids} / ${b.newPids})`);
  assert.deepEqual(b.oldPids, a.newPids);
  for (const other of others) assert.deepEqual(other, b);
  assert.equal(await bodyOf(target), 'v2');
  // One follow-up for five requests: v2 was loaded once, by the second reload's worker.
  const v2 = (await loads(log)).filter(([tag]) => tag === 'v2').map(([, pid]) => pid);
  assert.deepEqual(v2, b.newPids);
  const after = await rt.figures();
  assert.equal(after.get('app_reloads_started'), '2');
  assert.equal(after.get('app_reloads'), '2');
  assert.equal(after.get('app_reload_error'), '');
  assert.equal(after.get('app_worker_pids'), b.newPids.join(' '));
});

test('a follow-up reload whose code fails answers its callers with that failure; the stats port names it', async (t) => {
  const { module, log, gate, rt } = await startGatedApp(t, 'reload-follow-fail');

  await rm(gate);
  await writeFile(module, gatedModule('v1', log, gate));
  const first = rt.supervisor.reload('app', 'deploy v1');
  await waitUntil('the v1 reload\'s worker loading', async () => (await loads(log)).some(([tag]) => tag === 'v1'));
  await writeFile(module, 'export default (req, res) => { res.end(\'broken\')\n');
  const second = rt.supervisor.reload('app', 'deploy broken');
  await writeFile(gate, '');
  const a = await first;
  await assert.rejects(second, (err: Error & { code?: string }) => err.code === 'DOW_ERR_RELOAD' && /cannot reload app: .*(SyntaxError|Unexpected|missing)/i.test(err.message));
  const figures = await rt.figures();
  assert.equal(figures.get('app_reloads'), '2');
  assert.match(figures.get('app_reload_error') ?? '', /^cannot reload app: .*(SyntaxError|Unexpected|missing)/i);
  // The first reload's workers go on serving.
  assert.equal(figures.get('app_worker_pids'), a.newPids.join(' '));
  assert.equal(await bodyOf(rt.targets.get('app') as Target), 'v1');
});

test('SIGHUP reloads independent apps at once: every app\'s new worker loads while the others\' do', async (t) => {
  const dir = await testDir(t, 'reload-parallel');
  const log = join(dir, 'loads.log');
  const gate = join(dir, 'gate');
  await writeFile(gate, '');
  const names = ['one', 'two', 'three'];
  for (const name of names) await writeFile(join(dir, `${name}.mjs`), gatedModule(`${name}-old`, log, gate));
  const rt = await startSupervisor(t, names.map((name) => ({ name, module: join(dir, `${name}.mjs`) })));

  // Every app's new code waits at the closed gate: one after another, only the first could load.
  await rm(gate);
  for (const name of names) await writeFile(join(dir, `${name}.mjs`), gatedModule(`${name}-new`, log, gate));
  const all = rt.supervisor.reloadAll('SIGHUP');
  await waitUntil('every app\'s new worker loading at once', async () => {
    const tags = new Set((await loads(log)).map(([tag]) => tag));
    return names.every((name) => tags.has(`${name}-new`));
  }, { timeoutMs: 15_000 });
  await writeFile(gate, '');
  await all;
  for (const name of names) assert.equal(await bodyOf(rt.targets.get(name) as Target), `${name}-new`);
});
