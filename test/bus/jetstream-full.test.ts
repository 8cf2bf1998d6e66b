// The events stream at its byte bound, on real NATS (issue 19.6): with the workers stopped, publishes past the
// bound are refused (BusFullError: ingest does not acknowledge, the agent keeps the batch in its spool) instead of
// dropping the oldest messages, which were acknowledged and not yet stored; restarted, the workers store every
// acknowledged message and purge what they acknowledged, so the refused batches, re-sent, fit again. Replicas: an
// existing stream keeps its own, with a warning.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { BusFullError, JetStreamBus, defaultReplicas } from '../../src/bus/jetstream.ts';
import { jsonCodec } from '../../src/bus/codec.ts';

const NATS = process.env.VIGIL_TEST_NATS ?? '127.0.0.1:4222';
const MIB = 2 ** 20;

async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('workers stopped past the bound: publishes are refused, nothing acknowledged is lost; restarted, every acknowledged message is stored once', { timeout: 90_000 }, async () => {
  const namespace = `full${randomBytes(4).toString('hex')}`;
  const o = { servers: NATS, codec: jsonCodec<{ id: string; pad: string }>(), namespace, maxBytes: MIB, eventPartitions: 2, consumerGroup: 'workers' };
  const ingest = await JetStreamBus.connect(o);
  const stored = new Map<string, number>(); // message id → times the "worker" stored it
  const store = async (batch: { id: string }[]) => { for (const m of batch) stored.set(m.id, (stored.get(m.id) ?? 0) + 1); };
  const workers = () => JetStreamBus.connect({ ...o, trimConsumed: true, trimIntervalMs: 100 });
  const nc = await connect({ servers: NATS });
  const jsm = await jetstreamManager(nc);
  const state = async () => (await jsm.streams.info(`${namespace.toUpperCase()}_EVENTS`)).state;
  try {
    // Workers run, then stop (their consumers exist, as after a deployment's first start).
    let worker = await workers();
    let sub = worker.consume('events.>', store, { maxBatch: 16, maxWaitMs: 0 });
    const pad = 'x'.repeat(20_000);
    const acked: string[] = [];
    const refused: string[] = [];
    let n = 0;
    const send = async (id: string) => {
      try {
        await ingest.publish({ subject: `events.t1.h${n++ % 5}`, id, payload: { id, pad } });
        acked.push(id);
      } catch (err) {
        assert.ok(err instanceof BusFullError, `refused as full, not ${String(err)}`);
        refused.push(id);
      }
    };
    for (let i = 0; i < 20; i++) await send(`a${i}`);
    await until(() => stored.size === 20, 'the running workers to store the first 20');
    await until(async () => (await state()).messages === 0, 'the workers to purge what they acknowledged');
    await sub.stop();
    await worker.close();

    // Workers down: 1 MiB holds ≈ 50 messages of 20 KB; the 80 sent, the rest are refused, none dropped.
    for (let i = 0; i < 80; i++) await send(`b${i}`);
    assert.ok(refused.length >= 20, `${refused.length} publishes refused at the bound`);
    const held = await state();
    assert.equal(held.messages, acked.length - 20, 'every acknowledged, unstored message is still in the stream');
    assert.ok(held.bytes <= MIB, `${held.bytes} bytes within the bound`);

    // Workers restarted: the backlog is stored and purged; the refused batches, re-sent (the agents' spools), fit.
    worker = await workers();
    sub = worker.consume('events.>', store, { maxBatch: 16, maxWaitMs: 0 });
    await until(() => acked.every((id) => stored.has(id)), 'every acknowledged message to be stored');
    await until(async () => (await state()).messages === 0, 'the stored backlog to be purged');
    const spooled = refused.splice(0);
    for (const id of spooled) await send(id);
    assert.deepEqual(refused, [], 'the re-sent batches are accepted once the backlog drained');
    await until(() => acked.every((id) => stored.has(id)), 'the re-sent messages to be stored');
    assert.equal(acked.length, 100);
    assert.deepEqual([...stored.keys()].sort(), [...acked].sort(), 'stored: every acknowledged message, nothing else');
    assert.deepEqual([...stored.values()].filter((c) => c !== 1), [], 'each stored once');
    await sub.stop();
    await worker.close();
  } finally {
    await nc.close();
    await ingest.close();
    await JetStreamBus.deleteStreams(NATS, namespace);
  }
});

test('replicas: 1 on a single server; an existing stream with other replicas is left as it is, with a warning', async () => {
  assert.equal(defaultReplicas(1), 1);
  assert.equal(defaultReplicas(2), 1);
  assert.equal(defaultReplicas(3), 3);
  assert.equal(defaultReplicas(5), 3);
  const namespace = `rep${randomBytes(4).toString('hex')}`;
  const warnings: string[] = [];
  const o = { servers: NATS, codec: jsonCodec(), namespace, maxBytes: 4 * MIB, onWarning: (m: string) => warnings.push(m) };
  const nc = await connect({ servers: NATS });
  try {
    const first = await JetStreamBus.connect(o); // this NATS is one server: auto = 1
    await first.close();
    assert.deepEqual(warnings, []);
    const jsm = await jetstreamManager(nc);
    const name = `${namespace.toUpperCase()}_EVENTS`;
    assert.equal((await jsm.streams.info(name)).config.num_replicas, 1);
    // An operator asked for 3 (on one server NATS could not create them): the existing stream is not touched.
    const again = await JetStreamBus.connect({ ...o, replicas: 3 });
    await again.publish({ subject: 'events.t1.h1', id: 'm1', payload: {} });
    await again.close();
    assert.equal(warnings.length, 5, warnings.join('\n'));
    assert.match(warnings[0], new RegExp(`stream ${name} has 1 replica\\(s\\), not the 3 configured: left as it is`));
    assert.equal((await jsm.streams.info(name)).config.num_replicas, 1);
    assert.equal((await jsm.streams.info(name)).config.discard, 'new');
  } finally {
    await nc.close();
    await JetStreamBus.deleteStreams(NATS, namespace);
  }
});
