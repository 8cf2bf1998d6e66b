// The embedded server's durable bus across restarts: what a consumer had not finished is delivered again
// after the log is reopened, what it had finished is not, and publish refuses when the log is full.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalLogBus } from '../../src/bus/local-log.ts';
import { jsonCodec } from '../../src/bus/codec.ts';
import type { BusMessage } from '../../src/bus/types.ts';

interface P { n: number }
const msg = (n: number, subject = 'events.t1.h1'): BusMessage<P> => ({ subject, id: `m${n}`, payload: { n } });

async function until(cond: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('messages not yet handled when the process stops are delivered after reopening; handled ones are not', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-loglog-'));
  try {
    const first = await LocalLogBus.open<P>(dir, { codec: jsonCodec(), retryDelayMs: 20 });
    const handled: number[] = [];
    first.consume('events.>', async (batch) => {
      if (batch.some((m) => m.payload.n >= 5)) throw new Error('store down');
      handled.push(...batch.map((m) => m.payload.n));
    }, { maxBatch: 5, maxWaitMs: 0 });
    for (let n = 0; n < 5; n++) await first.publish(msg(n));
    await until(() => handled.length === 5, 'the first five');
    await first.publish(msg(100, 'alerts.t1')); // nobody's business here: passed over
    for (let n = 5; n < 12; n++) await first.publish(msg(n));
    await until(() => first.counters.handlerFailures > 0, 'a failing batch');
    await first.close();

    const second = await LocalLogBus.open<P>(dir, { codec: jsonCodec() });
    const again: number[] = [];
    second.consume('events.>', async (batch) => { again.push(...batch.map((m) => m.payload.n)); }, { maxBatch: 4, maxWaitMs: 0 });
    await second.publish(msg(12));
    await until(() => again.includes(12), 'the live message');
    assert.deepEqual(again, [5, 6, 7, 8, 9, 10, 11, 12]);
    assert.equal(second.backlog, 0);
    await second.close();

    const third = await LocalLogBus.open<P>(dir, { codec: jsonCodec() });
    const none: number[] = [];
    third.consume('events.>', async (batch) => { none.push(...batch.map((m) => m.payload.n)); }, { maxBatch: 4, maxWaitMs: 0 });
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(none, [], 'everything was handled before');
    await third.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('publish refuses when the log is nearly full, and accepts again once consumers catch up', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-logfull-'));
  try {
    const bus = await LocalLogBus.open<{ pad: string }>(dir, { codec: jsonCodec(), maxBytes: 64 * 1024 });
    let open = false;
    bus.consume('events.>', async () => { await until(() => open, 'the gate'); }, { maxBatch: 1000, maxWaitMs: 0 });
    const pad = 'x'.repeat(4000);
    let refused: Error | undefined;
    for (let i = 0; i < 40 && !refused; i++) {
      await bus.publish({ subject: 'events.t1.h1', id: `p${i}`, payload: { pad } }).catch((e: Error) => { refused = e; });
    }
    assert.match(String(refused?.message), /bus log full/);
    assert.equal(bus.counters.refusedFull, 1);
    open = true;
    await until(() => bus.backlog === 0, 'the consumer to catch up');
    await bus.publish({ subject: 'events.t1.h1', id: 'after', payload: { pad } });
    await bus.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const [limit, options] of [['4 messages', { maxQueued: 4 }], ['200 bytes', { maxQueuedBytes: 200 }]] as const) {
  test(`a consumer far behind (past ${limit} in memory) never blocks publishers: its backlog is read back from the log, in order`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-logspill-'));
    try {
      const bus = await LocalLogBus.open<P>(dir, { codec: jsonCodec(), ...options });
      let open = false;
      const got: number[] = [];
      bus.consume('events.>', async (batch) => {
        await until(() => open, 'the gate');
        got.push(...batch.map((m) => m.payload.n));
      }, { maxBatch: 3, maxWaitMs: 0 });
      // Every publish resolves while the consumer is stuck: nothing waits for it.
      for (let n = 0; n < 50; n++) await bus.publish(msg(n));
      assert.equal(bus.backlog, 50);
      open = true;
      await until(() => got.length === 50, 'all fifty, read back from disk');
      assert.deepEqual(got, Array.from({ length: 50 }, (_, i) => i));
      assert.ok(bus.counters.readBack >= 40, `most were read back from disk (${bus.counters.readBack})`);
      await until(() => bus.backlog === 0, 'the log to be released');
      await bus.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('within the in-memory limits nothing is read back from the log', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-logspill-'));
  try {
    const bus = await LocalLogBus.open<P>(dir, { codec: jsonCodec() });
    const got: number[] = [];
    bus.consume('events.>', async (batch) => { got.push(...batch.map((m) => m.payload.n)); }, { maxBatch: 3, maxWaitMs: 0 });
    for (let n = 0; n < 50; n++) await bus.publish(msg(n));
    await until(() => got.length === 50, 'all fifty');
    assert.equal(bus.counters.readBack, 0);
    await bus.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('publish waits for an fdatasync of its own group by default; with syncIntervalMs the log syncs once per interval', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-loglog-'));
  try {
    const strict = await LocalLogBus.open<P>(join(dir, 'strict'), { codec: jsonCodec() });
    for (let n = 0; n < 5; n++) await strict.publish(msg(n));
    assert.equal(strict.syncs, 5, 'one fdatasync per awaited publish');
    await strict.close();

    const lazy = await LocalLogBus.open<P>(join(dir, 'lazy'), { codec: jsonCodec(), syncIntervalMs: 300 });
    for (let n = 0; n < 5; n++) await lazy.publish(msg(n));
    assert.equal(lazy.syncs, 0, 'resolved once written, before any fdatasync');
    await until(() => lazy.syncs === 1, 'the interval sync');
    await lazy.close();
    const reopened = await LocalLogBus.open<P>(join(dir, 'lazy'), { codec: jsonCodec() });
    const got: number[] = [];
    reopened.consume('events.>', async (batch) => { got.push(...batch.map((m) => m.payload.n)); }, { maxBatch: 10, maxWaitMs: 0 });
    await until(() => got.length === 5, 'the five messages after reopening');
    assert.deepEqual(got, [0, 1, 2, 3, 4]);
    await reopened.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
