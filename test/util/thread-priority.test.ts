import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { setThreadNice, threadNice } from '../../src/util/thread-priority.ts';

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
