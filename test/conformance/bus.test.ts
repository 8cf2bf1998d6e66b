// Bus conformance: the same cases against every Bus implementation (in-process, NATS JetStream at
// 127.0.0.1:4222, or VIGIL_TEST_NATS). Where the two differ by design the case states both behaviours:
// a failed handler means redelivery on JetStream and a rejected publish (the agent re-sends) in-process;
// JetStream drops re-published message ids within its duplicate window, the in-process bus does not (the
// event store collapses duplicates by event id).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InProcessBus } from '../../src/bus/in-process.ts';
import { LocalLogBus } from '../../src/bus/local-log.ts';
import { JetStreamBus } from '../../src/bus/jetstream.ts';
import { openWorkerLogBus } from '../../src/bus/worker-log.ts';
import { jsonCodec } from '../../src/bus/codec.ts';
import type { Bus, BusMessage } from '../../src/bus/types.ts';

interface Payload { n: number }

interface BusUnderTest {
  name: string;
  open(): Promise<{ bus: Bus<Payload>; dispose(): Promise<void> }>;
  onHandlerFailure: 'redelivers' | 'rejects-publish';
  dropsDuplicateIds: boolean;
}

const NATS = process.env.VIGIL_TEST_NATS ?? '127.0.0.1:4222';

const implementations: BusUnderTest[] = [
  {
    name: 'in-process',
    onHandlerFailure: 'rejects-publish',
    dropsDuplicateIds: false,
    async open() {
      const bus = new InProcessBus<Payload>(64);
      return { bus, dispose: () => bus.close() };
    },
  },
  {
    name: 'local-log',
    onHandlerFailure: 'redelivers',
    dropsDuplicateIds: true,
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'vigil-bus-'));
      const bus = await LocalLogBus.open<Payload>(dir, { codec: jsonCodec(), retryDelayMs: 50 });
      return { bus, dispose: async () => { await bus.close(); rmSync(dir, { recursive: true, force: true }); } };
    },
  },
  {
    name: 'local-log in a worker thread',
    onHandlerFailure: 'redelivers',
    dropsDuplicateIds: true,
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'vigil-bus-'));
      const bus = await openWorkerLogBus<Payload>(dir, jsonCodec(), { retryDelayMs: 50 });
      return { bus, dispose: async () => { await bus.close(); rmSync(dir, { recursive: true, force: true }); } };
    },
  },
  {
    name: 'jetstream',
    onHandlerFailure: 'redelivers',
    dropsDuplicateIds: true,
    async open() {
      const namespace = `vt${randomBytes(6).toString('hex')}`;
      const bus = await JetStreamBus.connect<Payload>({
        servers: NATS, codec: jsonCodec(), namespace, redeliveryDelayMs: 50, maxBytes: 64 * 2 ** 20,
      });
      return { bus, dispose: async () => { await bus.close(); await JetStreamBus.deleteStreams(NATS, namespace); } };
    },
  },
];

async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const msg = (subject: string, n: number, id = `${subject}:${n}`): BusMessage<Payload> => ({ subject, id, payload: { n } });

for (const impl of implementations) {
  describe(`bus conformance: ${impl.name}`, () => {
    const withBus = (fn: (bus: Bus<Payload>) => Promise<void>) => async () => {
      const { bus, dispose } = await impl.open();
      try { await fn(bus); } finally { await dispose(); }
    };

    test('delivers the messages of one subject in publish order', withBus(async (bus) => {
      const got = new Map<string, number[]>();
      bus.consume('events.t1.>', async (batch) => {
        for (const m of batch) got.set(m.subject, [...(got.get(m.subject) ?? []), m.payload.n]);
      }, { maxBatch: 7, maxWaitMs: 0 });
      const sent = Array.from({ length: 40 }, (_, i) => msg(`events.t1.h${i % 2}`, i));
      await Promise.all(sent.map((m) => bus.publish(m)));
      await until(() => (got.get('events.t1.h0')?.length ?? 0) + (got.get('events.t1.h1')?.length ?? 0) === 40, 'all messages');
      assert.deepEqual(got.get('events.t1.h0'), sent.filter((m) => m.subject.endsWith('h0')).map((m) => m.payload.n));
      assert.deepEqual(got.get('events.t1.h1'), sent.filter((m) => m.subject.endsWith('h1')).map((m) => m.payload.n));
    }));

    test('wildcard filters select by token', withBus(async (bus) => {
      const seen: Record<string, string[]> = { exact: [], star: [], alerts: [] };
      const record = (k: string) => async (batch: BusMessage<Payload>[]) => { seen[k].push(...batch.map((m) => m.subject)); };
      const opts = { maxBatch: 10, maxWaitMs: 0 };
      bus.consume('events.t1.h1', record('exact'), opts);
      bus.consume('events.t1.*', record('star'), opts);
      bus.consume('alerts.t1', record('alerts'), opts);
      await bus.publish(msg('events.t1.h1', 1));
      await bus.publish(msg('events.t1.h2', 2));
      await bus.publish(msg('alerts.t1', 3));
      await until(() => seen.exact.length + seen.star.length + seen.alerts.length === 4, 'four deliveries');
      assert.deepEqual(seen, { exact: ['events.t1.h1'], star: ['events.t1.h1', 'events.t1.h2'], alerts: ['alerts.t1'] });
    }));

    test('hands the handler batches of at most maxBatch, filling them within maxWaitMs', withBus(async (bus) => {
      const sizes: number[] = [];
      bus.consume('events.>', async (batch) => { sizes.push(batch.length); }, { maxBatch: 5, maxWaitMs: 150 });
      await Promise.all(Array.from({ length: 12 }, (_, i) => bus.publish(msg('events.t1.h1', i))));
      await until(() => sizes.reduce((a, b) => a + b, 0) === 12, 'twelve messages');
      assert.ok(sizes.every((s) => s >= 1 && s <= 5), `batch sizes ${sizes}`);
      assert.ok(sizes.some((s) => s > 1), `messages were batched: ${sizes}`);
    }));

    test(`a failed handler loses nothing (${impl.onHandlerFailure})`, withBus(async (bus) => {
      let attempts = 0;
      const handled: number[] = [];
      bus.consume('events.>', async (batch) => {
        attempts++;
        if (attempts === 1) throw new Error('store unavailable');
        handled.push(...batch.map((m) => m.payload.n));
      }, { maxBatch: 10, maxWaitMs: 0 });
      const m = msg('events.t1.h1', 42);
      const first = await bus.publish(m).then(() => 'resolved', () => 'rejected');
      assert.equal(first, impl.onHandlerFailure === 'redelivers' ? 'resolved' : 'rejected');
      if (first === 'rejected') await bus.publish(m); // what ingest does: the agent re-sends the batch
      await until(() => handled.length > 0, 'successful handling');
      assert.deepEqual(handled, [42]);
      assert.equal(attempts, 2);
    }));

    test(`a message delivered again is ${impl.onHandlerFailure === 'redelivers' ? 'marked redelivered' : 'never marked (a re-sent batch is a new message)'}`, withBus(async (bus) => {
      const marks: (boolean | undefined)[] = [];
      bus.consume('events.>', async (batch) => {
        marks.push(...batch.map((m) => m.redelivered));
        if (marks.length === 1) throw new Error('store unavailable');
      }, { maxBatch: 10, maxWaitMs: 0 });
      const m = msg('events.t1.h1', 7);
      if (await bus.publish(m).then(() => false, () => true)) await bus.publish(m);
      await until(() => marks.length === 2, 'a second delivery');
      await bus.publish(msg('events.t1.h1', 8)); // a new message after it: not marked
      await until(() => marks.length === 3, 'the next message');
      assert.deepEqual(marks.map(Boolean), [false, impl.onHandlerFailure === 'redelivers', false]);
    }));

    test(`re-published message ids are ${impl.dropsDuplicateIds ? 'dropped' : 'delivered again'}`, withBus(async (bus) => {
      const got: number[] = [];
      bus.consume('events.>', async (batch) => { got.push(...batch.map((m) => m.payload.n)); }, { maxBatch: 10, maxWaitMs: 0 });
      await bus.publish(msg('events.t1.h1', 1, 'batch-1'));
      await bus.publish(msg('events.t1.h1', 1, 'batch-1'));
      await bus.publish(msg('events.t1.h1', 2, 'batch-2'));
      await until(() => got.includes(2), 'the sentinel');
      assert.deepEqual(got, impl.dropsDuplicateIds ? [1, 2] : [1, 1, 2]);
    }));

    test('stopping a subscription finishes the batch in hand; the next consumer does not see it again', withBus(async (bus) => {
      let started = false;
      let finished = false;
      const sub = bus.consume('events.>', async () => {
        started = true;
        await new Promise((r) => setTimeout(r, 200));
        finished = true;
      }, { maxBatch: 10, maxWaitMs: 0 });
      const published = bus.publish(msg('events.t1.h1', 1)).catch(() => undefined);
      await until(() => started, 'the handler to start');
      await sub.stop();
      assert.equal(finished, true);
      await published;
      const later: number[] = [];
      bus.consume('events.>', async (batch) => { later.push(...batch.map((m) => m.payload.n)); }, { maxBatch: 10, maxWaitMs: 0 });
      await bus.publish(msg('events.t1.h1', 2));
      await until(() => later.length > 0, 'the second message');
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(later, [2]);
    }));

    test('refuses subjects outside the layout, and publishing after close', withBus(async (bus) => {
      bus.consume('events.>', async () => {}, { maxBatch: 1, maxWaitMs: 0 });
      await assert.rejects(bus.publish(msg('nosuch.t1.h1', 1)));
      await bus.close();
      await assert.rejects(bus.publish(msg('events.t1.h1', 1)));
    }));
  });
}

describe('redelivery after a crash is marked', () => {
  for (const [name, open] of [
    ['local-log', (dir: string) => LocalLogBus.open<Payload>(dir, { codec: jsonCodec(), retryDelayMs: 50 })],
    ['local-log in a worker thread', (dir: string) => openWorkerLogBus<Payload>(dir, jsonCodec(), { retryDelayMs: 50 })],
  ] as const) {
    test(`${name}: what was not handled before a restart is replayed marked; later messages are not`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'vigil-bus-'));
      try {
        const first = await open(dir);
        const handled: number[] = [];
        let failures = 0;
        first.consume('events.>', async (batch) => {
          if (batch.some((m) => m.payload.n === 2)) { failures++; throw new Error('the process dies before this batch is done'); }
          handled.push(...batch.map((m) => m.payload.n));
        }, { maxBatch: 1, maxWaitMs: 0 });
        await first.publish(msg('events.t1.h1', 1));
        await until(() => handled.length === 1, 'the first message');
        await first.publish(msg('events.t1.h1', 2));
        await until(() => failures > 0, 'the second message to be held');
        await first.close(); // message 2 is not done: replayed after the restart
        const second = await open(dir);
        const got: { n: number; redelivered?: boolean }[] = [];
        second.consume('events.>', async (batch) => { got.push(...batch.map((m) => ({ n: m.payload.n, redelivered: m.redelivered }))); }, { maxBatch: 10, maxWaitMs: 0 });
        await until(() => got.length === 1, 'the replay');
        await second.publish(msg('events.t1.h1', 3));
        await until(() => got.length === 2, 'a new message');
        assert.deepEqual(got.map((g) => [g.n, Boolean(g.redelivered)]), [[2, true], [3, false]]);
        await second.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  test('jetstream: a message a dead worker held is redelivered after ack_wait, marked', async () => {
    const namespace = `vt${randomBytes(6).toString('hex')}`;
    const open = () => JetStreamBus.connect<Payload>({ servers: NATS, codec: jsonCodec(), namespace, ackWaitMs: 1000, maxBytes: 64 * 2 ** 20 });
    const dead = await open();
    const alive = await open();
    let release = () => {};
    try {
      let held: boolean | undefined;
      dead.consume('events.>', async (batch) => {
        held = Boolean(batch[0].redelivered);
        await new Promise<void>((r) => { release = r; }); // never returns while the test runs: a dead worker
      }, { maxBatch: 10, maxWaitMs: 0 });
      await dead.publish(msg('events.t1.h1', 1));
      await until(() => held !== undefined, 'the dead worker to hold it');
      const got: { n: number; redelivered?: boolean }[] = [];
      alive.consume('events.>', async (batch) => { got.push(...batch.map((m) => ({ n: m.payload.n, redelivered: m.redelivered }))); }, { maxBatch: 10, maxWaitMs: 0 });
      await until(() => got.length === 1, 'the redelivery');
      assert.equal(held, false, 'the first delivery is not marked');
      assert.deepEqual(got.map((g) => [g.n, Boolean(g.redelivered)]), [[1, true]]);
    } finally {
      await alive.close();
      release();
      await dead.close();
      await JetStreamBus.deleteStreams(NATS, namespace);
    }
  });
});

describe('jetstream host partitions', () => {
  test('two consumers owning half the partitions each: every host goes wholly to one, nothing missing', async () => {
    const namespace = `vt${randomBytes(6).toString('hex')}`;
    const open = (owned: number[]) => JetStreamBus.connect<Payload>({
      servers: NATS, codec: jsonCodec(), namespace, eventPartitions: 4, ownedPartitions: owned, maxBytes: 64 * 2 ** 20,
    });
    const buses = [await open([0, 1]), await open([2, 3])];
    try {
      const got = buses.map(() => new Map<string, number[]>());
      buses.forEach((bus, i) => bus.consume('events.>', async (batch) => {
        for (const m of batch) got[i].set(m.subject, [...(got[i].get(m.subject) ?? []), m.payload.n]);
      }, { maxBatch: 50, maxWaitMs: 0 }));
      const sent = Array.from({ length: 120 }, (_, i) => msg(`events.t1.host${i % 20}`, i));
      await Promise.all(sent.map((m) => buses[0].publish(m))); // one connection: publish order is stream order
      const count = () => got.reduce((n, g) => n + [...g.values()].reduce((a, v) => a + v.length, 0), 0);
      await until(() => count() === 120, 'all 120 messages');
      for (let h = 0; h < 20; h++) {
        const subject = `events.t1.host${h}`;
        const owners = got.filter((g) => g.has(subject));
        assert.equal(owners.length, 1, `${subject} went to exactly one consumer`);
        assert.deepEqual(owners[0].get(subject), sent.filter((m) => m.subject === subject).map((m) => m.payload.n));
      }
      assert.ok(got.every((g) => g.size > 0), 'both consumers own some hosts');
    } finally {
      await Promise.all(buses.map((b) => b.close()));
      await JetStreamBus.deleteStreams(NATS, namespace);
    }
  });
});
