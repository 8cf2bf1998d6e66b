// The pipeline's handling of redelivered messages: the events of a message marked `redelivered` that the store
// holds already are not stored again (so the events_hourly rollup counts each event once), the rest of the batch
// is, every stage still sees the whole batch, and the dropped events are counted.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import type { Bus, BusMessage, ConsumeOptions, Subscription } from '../../src/bus/types.ts';
import { LocalLogBus } from '../../src/bus/local-log.ts';
import { jsonCodec } from '../../src/bus/codec.ts';
import type { VigilEvent } from '../../src/schema/event.ts';
import { ChdbEngine } from '../../src/stores/events/chdb-engine.ts';
import { ClickHouseEventStore } from '../../src/stores/events/clickhouse-store.ts';
import { Pipeline, type PipelineStage } from '../../src/server/pipeline.ts';
import { pipelineReplayedDuplicates } from '../../src/server/metrics.ts';

const T0 = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3_600_000;
const log = pino({ level: 'silent' });

function event(tenant: string, id: string, s: number, host = 'h1'): VigilEvent {
  return {
    '@timestamp': new Date(T0 + s * 1000).toISOString(),
    agent: { id: host, hostname: `${host}.example`, tenant_id: tenant },
    event: { id, type: 'process_start', ingested: new Date(T0 + s * 1000 + 500).toISOString() },
  };
}

/** A bus whose deliveries the test makes itself. */
class HandBus implements Bus<VigilEvent[]> {
  handler: ((batch: BusMessage<VigilEvent[]>[]) => Promise<void>) | undefined;
  async publish(): Promise<void> { throw new Error('not used'); }
  consume(_filter: string, handler: (batch: BusMessage<VigilEvent[]>[]) => Promise<void>, _opts: ConsumeOptions): Subscription {
    this.handler = handler;
    return { stop: async () => { this.handler = undefined; } };
  }
  async close(): Promise<void> {}
}

let dir: string;
let engine: ChdbEngine;
let store: ClickHouseEventStore;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-pipeline-'));
  engine = new ChdbEngine(join(dir, 'events'));
  store = new ClickHouseEventStore(engine);
  await store.init();
});
after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Rows stored for the tenant (duplicates included) and its events in the hourly rollup. */
async function counts(tenant: string): Promise<{ rows: number; hourly: number; distinct: number }> {
  const [r] = await engine.query<{ n: string }>('SELECT count() AS n FROM telemetry_events WHERE tenant_id = {t:String}', { t: tenant });
  const hourly = (await store.eventCounts(tenant, new Date(T0 - 3_600_000), 3600)).reduce((n, b) => n + b.count, 0);
  return { rows: Number(r.n), hourly, distinct: await store.countDistinct(tenant) };
}

const replayedSoFar = async () => (await pipelineReplayedDuplicates.get()).values[0]?.value ?? 0;

test('a batch stored, then redelivered together with new events: each event is stored and counted hourly once', async () => {
  const t = `t-${randomUUID()}`;
  const bus = new HandBus();
  const seen: string[] = [];
  const stage: PipelineStage = { name: 'record', async process(events) { seen.push(...events.map((e) => e.event.id)); } };
  const pipeline = new Pipeline({ bus, store, stages: [stage], log });
  pipeline.start();
  const first = [event(t, 'a', 1), event(t, 'b', 2), event(t, 'c', 3, 'h2')];
  await bus.handler!([{ subject: `events.${t}.h1`, id: 'm1', payload: first.slice(0, 2) }, { subject: `events.${t}.h2`, id: 'm2', payload: first.slice(2) }]);
  assert.deepEqual(await counts(t), { rows: 3, hourly: 3, distinct: 3 });

  const before = await replayedSoFar();
  // The crash came after the store write: m1 and m2 come again (ingested later, cut differently), with new messages.
  const again = first.map((e) => ({ ...e, event: { ...e.event, ingested: new Date(T0 + 100_000).toISOString() } }));
  await bus.handler!([
    { subject: `events.${t}.h1`, id: 'm1', payload: [...again.slice(0, 2), event(t, 'd', 4)], redelivered: true }, // 'd' never stored
    { subject: `events.${t}.h2`, id: 'm2', payload: again.slice(2), redelivered: true },
    { subject: `events.${t}.h1`, id: 'm3', payload: [event(t, 'e', 5)] }, // a new message
  ]);
  assert.deepEqual(await counts(t), { rows: 5, hourly: 5, distinct: 5 });
  assert.equal(await replayedSoFar() - before, 3);
  // Every stage still saw every event: a crash may have fallen between the store write and a stage.
  assert.deepEqual(seen, ['a', 'b', 'c', 'a', 'b', 'd', 'c', 'e']);

  // A message not marked is stored as it comes (the store's reads collapse what it repeats): nothing is asked.
  await bus.handler!([{ subject: `events.${t}.h1`, id: 'm4', payload: [event(t, 'f', 6)] }]);
  assert.equal(await replayedSoFar() - before, 3);
  await pipeline.stop();
});

test('on the local log: a batch whose required stage failed after the store write is handed again, marked, and stored once', async () => {
  const t = `t-${randomUUID()}`;
  const busDir = mkdtempSync(join(tmpdir(), 'vigil-pipeline-bus-'));
  const bus = await LocalLogBus.open<VigilEvent[]>(busDir, { codec: jsonCodec(), retryDelayMs: 20 });
  let attempts = 0;
  const stage: PipelineStage = {
    name: 'flaky', required: true,
    async process() { if (++attempts === 1) throw new Error('alert store unavailable'); },
  };
  const pipeline = new Pipeline({ bus, store, stages: [stage], log });
  pipeline.start();
  try {
    const before = await replayedSoFar();
    await bus.publish({ subject: `events.${t}.h1`, id: 'b1', payload: [event(t, 'x', 1), event(t, 'y', 2)] });
    const end = Date.now() + 10_000;
    while (attempts < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    assert.equal(attempts, 2);
    assert.ok(await bus.drain(5000));
    assert.deepEqual(await counts(t), { rows: 2, hourly: 2, distinct: 2 });
    assert.equal(await replayedSoFar() - before, 2);
  } finally {
    await pipeline.stop();
    await bus.close();
    rmSync(busDir, { recursive: true, force: true });
  }
});
