// Partition leases of the workers, in one process on real NATS JetStream (a private namespace) and PostgreSQL
// (a fresh database): the fair share; one worker takes every partition; a second one joining gets half (the
// first gives them back); each host's events reach exactly the worker holding its partition; when the second
// stops gracefully, the first takes its partitions back at once; a worker that cannot reach PostgreSQL stops its
// consumers before its leases can expire (fencing). A killed worker's takeover (its leases expire) is shown across
// processes by test/scale/multi-process.test.ts.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { jsonCodec } from '../../src/bus/codec.ts';
import { hostPartition, JetStreamBus } from '../../src/bus/jetstream.ts';
import { fairShare, LeasedPartitionBus } from '../../src/bus/leased-partitions.ts';
import type { Subscription } from '../../src/bus/types.ts';
import { PostgresPartitionLeases } from '../../src/stores/leases/postgres.ts';
import { until } from '../response/helpers.ts';
import { createTempDatabase, type TempDatabase } from '../support/postgres.ts';

const NATS = 'nats://127.0.0.1:4222';
const P = 4;
const LEASE_MS = 1500;
const log = pino({ level: 'silent' });
const namespace = `lease${randomBytes(4).toString('hex')}`;
let db: TempDatabase;
let bus: JetStreamBus<string>;

before(async () => {
  db = await createTempDatabase('leases');
  bus = await JetStreamBus.connect<string>({ servers: NATS, codec: jsonCodec(), namespace, eventPartitions: P, consumerGroup: 'workers', maxBytes: 64 * 2 ** 20 });
});

after(async () => {
  await bus.close();
  await JetStreamBus.deleteStreams(NATS, namespace);
  await db.drop();
});

test('fair share: the shares sum to the partitions, ranks by member order, a newcomer counted', () => {
  assert.deepEqual(['a', 'b', 'c'].map((m) => fairShare(4, ['a', 'b', 'c'], m)), [2, 1, 1]);
  assert.deepEqual(['a', 'b'].map((m) => fairShare(4, ['a', 'b'], m)), [2, 2]);
  assert.equal(fairShare(4, [], 'a'), 4);
  assert.equal(fairShare(4, ['a'], 'b'), 2, 'not yet listed: counted as a member');
  assert.equal(fairShare(2, ['a', 'b', 'c'], 'c'), 0, 'more workers than partitions: one idles');
});

async function worker(member: string, received: Map<string, string>): Promise<{ bus: LeasedPartitionBus<string>; sub: Subscription; store: PostgresPartitionLeases }> {
  const store = await PostgresPartitionLeases.open(db.config, { pool: `${namespace}/workers`, member, leaseMs: LEASE_MS, partitions: P });
  const leased = new LeasedPartitionBus(bus, store, { partitions: P, leaseMs: LEASE_MS, log });
  const sub = leased.consume('events.>', async (batch) => { for (const m of batch) received.set(m.id, member); }, { maxBatch: 16, maxWaitMs: 0 });
  return { bus: leased, sub, store };
}

test('leases: one worker takes all, a joining worker gets half, a stopping worker hands its partitions back', { timeout: 30_000 }, async () => {
  const received = new Map<string, string>();
  const a = await worker('a', received);
  await until('a to hold every partition', () => a.bus.partitions.length === P || undefined);
  const firstTerms = a.bus.heldTerms;
  assert.deepEqual([...firstTerms.keys()].sort(), a.bus.partitions, 'a term for each held partition');
  const b = await worker('b', received);
  try {
    await until('a fair split', () => (a.bus.partitions.length === 2 && b.bus.partitions.length === 2) || undefined, 10_000);
    assert.deepEqual([...a.bus.partitions, ...b.bus.partitions].sort(), [0, 1, 2, 3], 'each partition held once');

    const hosts = Array.from({ length: 12 }, (_, i) => `host-${i}`);
    for (const h of hosts) await bus.publish({ subject: `events.t1.${h}`, id: `ev-${h}`, payload: h });
    await until('every event consumed', () => received.size === hosts.length || undefined);
    for (const h of hosts) {
      const owner = a.bus.partitions.includes(hostPartition('t1', h, P)) ? 'a' : 'b';
      assert.equal(received.get(`ev-${h}`), owner, `${h} went to the holder of its partition`);
    }
  } finally {
    await b.sub.stop();
    await b.store.close();
  }
  await until('a to take b\'s partitions back', () => a.bus.partitions.length === P || undefined, 10_000);
  for (const [p, term] of a.bus.heldTerms) {
    if (firstTerms.get(p) === term) continue;
    assert.ok(term > Math.max(...firstTerms.values()), `partition ${p} came back in a new term`);
  }
  assert.ok([...a.bus.heldTerms].some(([p, term]) => firstTerms.get(p) !== term), 'the partitions b held have new terms');
  await a.store.close(); // PostgreSQL out of reach: no renewal
  await until('a to stop consuming (fenced)', () => a.bus.partitions.length === 0 || undefined, 10_000);
  await a.sub.stop();
});
