import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { SCHED_IDLE, setThreadNice, threadNice, threadPolicies } from '../../src/util/thread-priority.ts';

// Raising a nice value needs no privilege, so this holds for any user.
test('setThreadNice changes the calling thread only, not the rest of the process', async () => {
  const before = threadNice();
  const script = `
    const { parentPort } = require('node:worker_threads');
    import(${JSON.stringify(new URL('../../src/util/thread-priority.ts', import.meta.url).href)}).then((m) => {
      parentPort.postMessage({ result: m.setThreadNice(${before + 5}), after: m.threadNice() });
    });`;
  const worker = new Worker(script, { eval: true });
  const reply = await new Promise<{ result: { ok: boolean; nice: number }; after: number }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await worker.terminate();
  assert.deepEqual(reply.result, { ok: true, nice: before + 5 });
  assert.equal(reply.after, before + 5);
  assert.equal(threadNice(), before, 'the main thread keeps its nice value');
});

test('setThreadNice reports a refused or invalid value instead of throwing', () => {
  const r = setThreadNice(42);
  assert.equal(r.ok, false);
  assert.equal(r.nice, threadNice());
  assert.match((r as { error: string }).error, /42/);
});

// Switching to SCHED_IDLE needs no privilege either; a child process is switched, so this process keeps its policy.
test('setProcessIdleScheduling puts every thread of the process under SCHED_IDLE, threads started later too', async () => {
  const script = `
    import(${JSON.stringify(new URL('../../src/util/thread-priority.ts', import.meta.url).href)}).then(async (m) => {
      const before = m.threadPolicies();
      const result = m.setProcessIdleScheduling();
      const { Worker } = await import('node:worker_threads');
      const w = new Worker('setTimeout(() => {}, 200)', { eval: true }); // a thread started afterwards
      await new Promise((r) => w.once('online', r));
      console.log(JSON.stringify({ before, result, after: m.threadPolicies() }));
      await w.terminate();
    });`;
  const out = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  const { before, result, after } = JSON.parse(out) as { before: number[]; result: { ok: boolean }; after: number[] };
  assert.ok(before.length > 1 && before.every((p) => p === 0), `normal policy at first: ${before.join(',')}`);
  assert.deepEqual(result, { ok: true });
  assert.ok(after.length > before.length, 'the new thread is counted');
  assert.ok(after.every((p) => p === SCHED_IDLE), `every thread idle: ${after.join(',')}`);
  assert.ok(threadPolicies().every((p) => p === 0), 'this process keeps its policy');
});
