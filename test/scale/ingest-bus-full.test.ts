// The events stream full, seen through ingest (issue 19.6): `vigil ingest` + `vigil worker` on NATS JetStream with
// a 1 MiB events bound, the ClickHouse HTTP fixture and a fresh PostgreSQL database. A simulated agent streams
// while the worker runs, the worker stops, the agent streams on until ingest refuses: its stream is closed with
// "bus full" and it keeps the refused batches (its spool, held here); ingest's /healthz says "warning" (bus full),
// /readyz stays 200 and lists it, vigil_bus_full is 1. The worker restarted, the backlog drains, the agent re-sends
// its spool as it would after reconnecting, the warning clears; every event the agent was acknowledged for is stored
// exactly once, the refused ones only after their re-send, and nothing else. Then the same with the real agent
// (src/agent/agent.ts): its sensor's events past the bound are refused, spooled on disk, sent again after its
// reconnects once the worker is back: every event stored exactly once.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { pino } from 'pino';
import { Agent } from '../../src/agent/agent.ts';
import { SimulatedAgent } from '../../src/agent/simulator.ts';
import { JetStreamBus } from '../../src/bus/jetstream.ts';
import { loadOrCreateCa } from '../../src/pki/pki.ts';
import type { VigilEvent } from '../../src/schema/event.ts';
import { ClickHouseHttpEngine } from '../../src/stores/events/clickhouse-http.ts';
import { issueEnrollmentToken } from '../../src/stores/metadata/enrollment-tokens.ts';
import { PostgresMetadataStore } from '../../src/stores/metadata/postgres.ts';
import { spawnClickHouseFixture } from '../fixtures/clickhouse-http-server.ts';
import { freePort, metricsHeaders, spawnRole, stopProcess, type RoleProcess } from '../fixtures/vigil-roles.ts';
import { until } from '../response/helpers.ts';
import { createTempDatabase, type TempDatabase } from '../support/postgres.ts';
import { TestSensor } from '../support/test-sensor.ts';

const NATS = process.env.VIGIL_TEST_NATS ?? '127.0.0.1:4222';
const MIB = 2 ** 20;
const BATCH = 100; // events per batch: ≈ 40 KB on the bus, so ≈ 25 batches fill the bound
const REFUSALS = 3; // batches the agent holds when the worker comes back

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let dir: string;
let db: TempDatabase;
let clickhouse: Awaited<ReturnType<typeof spawnClickHouseFixture>>;
const namespace = `ingfull${randomBytes(4).toString('hex')}`;
const procs = new Set<RoleProcess>();

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-ingest-bus-full-'));
  db = await createTempDatabase('busfull');
  clickhouse = await spawnClickHouseFixture(join(dir, 'clickhouse'));
  mkdirSync(join(dir, 'pki'), { mode: 0o700 });
});

after(async () => {
  for (const p of procs) await stopProcess(p.child, 'SIGKILL');
  await clickhouse?.stop();
  await JetStreamBus.deleteStreams(NATS, namespace).catch(() => {});
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

async function role(args: string[]): Promise<RoleProcess> {
  const p = await spawnRole(args, {
    ...process.env, VIGIL_NATS_URL: `nats://${NATS}`, VIGIL_BUS_NAMESPACE: namespace, VIGIL_BUS_MAX_BYTES: String(MIB),
    VIGIL_EVENT_PARTITIONS: '1', VIGIL_CLICKHOUSE_URL: clickhouse.url, VIGIL_POSTGRES_URL: db.url, VIGIL_PKI_DIR: join(dir, 'pki'),
    VIGIL_HEALTH: '127.0.0.1:0', VIGIL_LOG_LEVEL: 'warn', VIGIL_WORKER_IDLE_SCHEDULING: '0',
  });
  procs.add(p);
  return p;
}

async function stop(p: RoleProcess): Promise<void> {
  await stopProcess(p.child, 'SIGTERM');
  procs.delete(p);
}

test('events stream full: ingest refuses with "bus full" and says so on /healthz; the agent re-sends its spool once the worker is back; every acknowledged event stored once', { timeout: 180_000 }, async () => {
  const started = Date.now();
  const caPem = (await loadOrCreateCa(join(dir, 'pki'))).certPem; // the CA ingest loads
  const grpcPort = await freePort();
  const ingest = await role(['ingest', '--grpc', `127.0.0.1:${grpcPort}`]);
  let worker = await role(['worker', '--pipeline-batch-wait-ms', '20']);
  const health = async (path: '/healthz' | '/readyz') => {
    const r = await fetch(`http://${ingest.addresses.health}${path}`);
    return { status: r.status, body: await r.json() as { status: string; warnings?: string[] } };
  };
  const metric = async (line: RegExp) => Number(line.exec(await (await fetch(`http://${ingest.addresses.health}/metrics`, { headers: metricsHeaders })).text())?.[1]);

  const metadata = new PostgresMetadataStore({ connectionString: db.url });
  const { token } = await issueEnrollmentToken(metadata, 'default', 60_000, 1);
  await metadata.close();
  const agent = await SimulatedAgent.enroll(`127.0.0.1:${grpcPort}`, caPem, token, 'sim-full');
  agent.connect();

  const acked = new Set<string>(); // event ids the agent was acknowledged for
  const spool: VigilEvent[][] = []; // refused batches, kept by the agent
  const refusals: string[] = [];
  /** Sends one batch; acknowledged: its ids are recorded; refused: the stream is closed (the agent reconnects). */
  const send = async (events: VigilEvent[]): Promise<boolean> => {
    try {
      const ack = await Promise.race([agent.send(events), sleep(15_000).then(() => { throw new Error('ack timeout'); })]);
      assert.equal(ack.accepted, events.length);
      for (const e of events) acked.add(e.event.id);
      return true;
    } catch (err) {
      refusals.push((err as Error).message);
      agent.close();
      agent.connect(); // a new stream, as the agent's reconnect
      return false;
    }
  };

  const engine = new ClickHouseHttpEngine({ url: clickhouse.url });
  const nc = await connect({ servers: NATS });
  try {
    const stored = async () => (await engine.query<{ n: string; ids: string }>(
      "SELECT count() AS n, uniqExact(event_id) AS ids FROM telemetry_events WHERE tenant_id = 'default'")).map((r) => ({ n: Number(r.n), ids: Number(r.ids) }))[0];
    const streamState = async () => (await (await jetstreamManager(nc)).streams.info(`${namespace.toUpperCase()}_EVENTS`)).state;

    // The worker runs: batches are acknowledged and stored, then purged from the stream.
    for (let i = 0; i < 3; i++) assert.ok(await send(agent.syntheticEvents(BATCH)), 'acknowledged while the worker runs');
    await until('the first batches to be stored', async () => (await stored()).ids === acked.size || undefined, 20_000);
    await until('the worker to purge what it acknowledged', async () => (await streamState()).messages === 0 || undefined, 20_000);
    assert.deepEqual(await health('/healthz'), { status: 200, body: { status: 'ok' } });

    // The worker stops: the agent streams until ingest refuses, then holds what it could not send.
    await stop(worker);
    for (let i = 0; i < 100 && spool.length < REFUSALS; i++) {
      const events = agent.syntheticEvents(BATCH);
      if (!(await send(events))) spool.push(events);
      else assert.equal(spool.length, 0, 'nothing is acknowledged after the first refusal while the worker is down');
    }
    assert.equal(spool.length, REFUSALS, `${refusals.length} refusals`);
    for (const r of refusals) assert.match(r, /UNAVAILABLE: bus full/, 'the agent\'s stream is closed with "bus full"');
    const held = await streamState();
    assert.ok(held.bytes <= MIB, `${held.bytes} bytes within the 1 MiB bound`);
    assert.equal(held.messages, acked.size / BATCH - 3, 'every acknowledged, unstored batch is in the stream');

    const healthz = await health('/healthz');
    assert.equal(healthz.status, 200, 'alive: a liveness probe must not restart ingest for this');
    assert.equal(healthz.body.status, 'warning');
    assert.equal(healthz.body.warnings?.length, 1);
    assert.match(healthz.body.warnings![0], /^bus full since .*the events stream is at its byte bound \(--bus-max-bytes/);
    const readyz = await health('/readyz');
    assert.equal(readyz.status, 200, 'still ready: every ingest on this stream is refused alike');
    assert.deepEqual(readyz.body, { status: 'ready', warnings: healthz.body.warnings });
    assert.equal(await metric(/^vigil_bus_full (\d+)$/m), 1);
    assert.equal(await metric(/^vigil_ingest_rejected_messages_total\{reason="bus_full"\} (\d+)$/m), REFUSALS);

    // The worker is back: the backlog is stored; the refused batches were not, until the agent re-sends them.
    worker = await role(['worker', '--pipeline-batch-wait-ms', '20']);
    await until('the backlog to be stored', async () => (await stored()).ids === acked.size || undefined, 30_000);
    const ids = async () => new Set((await engine.query<{ id: string }>("SELECT event_id AS id FROM telemetry_events WHERE tenant_id = 'default'")).map((r) => r.id));
    const before = await ids();
    assert.deepEqual(spool.flat().filter((e) => before.has(e.event.id)), [], 'no refused event was stored');
    assert.equal((await health('/healthz')).body.status, 'warning', 'the warning holds until a batch is accepted');

    // The agent re-sends its spool in order, retrying while the purge of the stored backlog catches up.
    while (spool.length) {
      if (await send(spool[0])) spool.shift();
      else await sleep(250);
    }
    assert.deepEqual(await health('/healthz'), { status: 200, body: { status: 'ok' } }, 'cleared by the accepted batch');
    assert.deepEqual(await health('/readyz'), { status: 200, body: { status: 'ready' } });
    assert.equal(await metric(/^vigil_bus_full (\d+)$/m), 0);

    await until('the re-sent batches to be stored', async () => (await stored()).ids === acked.size || undefined, 20_000);
    await sleep(500); // a duplicate would land after the last id
    assert.deepEqual(await stored(), { n: acked.size, ids: acked.size }, 'each acknowledged event stored once, nothing more');
    const after = await ids();
    assert.deepEqual([...acked].filter((id) => !after.has(id)), [], 'no acknowledged event is missing');
    assert.equal(acked.size % BATCH, 0);
    console.log(JSON.stringify({ acknowledged: acked.size, refusals: refusals.length, seconds: (Date.now() - started) / 1000 }));
  } finally {
    agent.close();
    await nc.close();
    await engine.close();
    await stop(worker);
    await stop(ingest);
  }
});

test('events stream full, the real agent: it spools what ingest refuses, reconnects and sends it once the worker is back; every event stored once', { timeout: 180_000 }, async () => {
  const caPem = (await loadOrCreateCa(join(dir, 'pki'))).certPem;
  const grpcPort = await freePort();
  const ingest = await role(['ingest', '--grpc', `127.0.0.1:${grpcPort}`]);
  let worker = await role(['worker', '--pipeline-batch-wait-ms', '20']);
  const metadata = new PostgresMetadataStore({ connectionString: db.url });
  const { token } = await issueEnrollmentToken(metadata, 'default', 60_000, 1);
  await metadata.close();
  const engine = new ClickHouseHttpEngine({ url: clickhouse.url });
  const stored = async () => (await engine.query<{ n: string; ids: string }>(
    "SELECT count() AS n, uniqExact(event_id) AS ids FROM telemetry_events WHERE tenant_id = 'default' AND host_id = {host:String} AND process_command_line LIKE 'true n%'",
    { host: agent.agentId }))
    .map((r) => ({ n: Number(r.n), ids: Number(r.ids) }))[0];
  const full = async () => Number(/^vigil_bus_full (\d+)$/m.exec(await (await fetch(`http://${ingest.addresses.health}/metrics`, { headers: metricsHeaders })).text())?.[1]);
  const TOTAL = 8_000; // ≈ 3 MiB on the bus: three times the bound
  const sensor = new TestSensor(TOTAL, 0); // nothing until the worker is stopped
  const agent = new Agent({ dataDir: join(dir, 'real-agent'), server: `127.0.0.1:${grpcPort}`, caPem, enrollmentToken: token, sensor, log: pino({ level: 'silent' }), batchEvents: BATCH });
  try {
    await agent.start();
    await stop(worker);
    sensor.release(TOTAL / 40); // 200 events each 10 ms: the whole load in 0.4 s, far past the bound
    await until('ingest to refuse at the bound', async () => ((await full()) === 1 && agent.counters.reconnects > 0) || undefined, 60_000);
    await until('the sensor to have emitted everything', () => sensor.emitted === TOTAL || undefined, 30_000);
    assert.ok(agent.health().queue_depth > 0, 'the agent holds refused batches in its spool');
    worker = await role(['worker', '--pipeline-batch-wait-ms', '20']);
    await until('every event to be stored', async () => (await stored()).ids === TOTAL || undefined, 120_000);
    await until('the agent to have nothing left to send', () => agent.health().queue_depth === 0 || undefined, 30_000);
    await sleep(500); // a duplicate would land after the last id
    assert.deepEqual(await stored(), { n: TOTAL, ids: TOTAL }, 'each event stored once, nothing lost');
    assert.equal(await full(), 0, 'the warning cleared');
  } finally {
    await agent.stop();
    await engine.close();
    await stop(worker);
    await stop(ingest);
  }
});
