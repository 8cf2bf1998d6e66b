// Scale benchmark (`npm run bench:scale`): the same agent load through one and through two ingest+worker
// pairs, each role its own process, on NATS JetStream (VIGIL_BENCH_NATS, default 127.0.0.1:4222, a
// throw-away namespace), the ClickHouse HTTP test fixture (in-process ClickHouse behind HTTP, its own
// process) and a throw-away PostgreSQL database. Simulated agents send paced batches and await each ack.
// Prints per scenario: stored events/s, CPU seconds per 1,000 events for each role (from /proc), agent-ack
// latency p50/p99, the ingest processes' own received → acknowledged p99 and its JetStream share, publish →
// PubAck p99 (histogram bucket bounds), how late the ingest processes' event loops ran (p99), and the ack
// latency of one ingest process without workers (they and
// ClickHouse would run on other hosts); the last line is one JSON object.
// Each scenario first runs the same load for BENCH_WARMUP_SECONDS (3) and waits until it is stored: start-up
// costs of the new processes (V8 compiling the hot code, connections, stream set-up) are paid once per
// process, not per event, and are not counted; CPU and latency are measured over the next BENCH_SECONDS,
// with the simulated agents (this process) at the ingest processes' CPU priority as root: they stand for
// other hosts (bench/support/agent-priority.ts; BENCH_AGENTS_NICE=0 measures without it). The ClickHouse
// fixture, which stands for a ClickHouse server on other hosts, runs at the workers' priority
// (BENCH_FIXTURE_PRIORITY: `idle`, the default, or a nice value); the workers at theirs (the role's default,
// SCHED_IDLE; BENCH_WORKER_IDLE_SCHEDULING=0 gives them nice +5 instead).
// Knobs (env): BENCH_RATE events/s offered (10000), BENCH_SECONDS (10), BENCH_AGENTS (20), BENCH_BATCH
// events per agent batch (100, the agent's default batch), BENCH_WORKER_BATCH bus messages per ClickHouse insert (64), BENCH_WORKER_WAIT_MS how long a worker
// waits for its batch to fill (250, the role's default), BENCH_ROUNDS how often one pair, two pairs and one
// pair at half the rate alternate (3; the last line gives, for each, the run with the median CPU per event).
// Two pairs against one at the same total load is the issue's ratio; at the same load per process (two pairs
// against one pair at half the rate) it leaves out what a process gains from a fuller load (more batches per
// wake-up, fuller socket writes) and keeps what two pairs add: coordination and contention.

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { SimulatedAgent, type PreparedBatch } from '../src/agent/simulator.ts';
import { JetStreamBus } from '../src/bus/jetstream.ts';
import { loadOrCreateCa } from '../src/pki/pki.ts';
import { issueEnrollmentToken } from '../src/stores/metadata/enrollment-tokens.ts';
import { ClickHouseHttpEngine } from '../src/stores/events/clickhouse-http.ts';
import { PostgresMetadataStore } from '../src/stores/metadata/postgres.ts';
import { spawnClickHouseFixture } from '../test/fixtures/clickhouse-http-server.ts';
import { cpuSeconds, freePort, metricsHeaders, spawnRole, stopProcess, type RoleProcess } from '../test/fixtures/vigil-roles.ts';
import { createTempDatabase } from '../test/support/postgres.ts';
import { withAgentPriority } from './support/agent-priority.ts';
import { bucketQuantiles, scrapeHistograms, type Buckets } from './support/prometheus.ts';

const RATE = Number(process.env.BENCH_RATE ?? 10_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 3);
const AGENTS = Number(process.env.BENCH_AGENTS ?? 20);
const BATCH = Number(process.env.BENCH_BATCH ?? 100);
const WORKER_BATCH = Number(process.env.BENCH_WORKER_BATCH ?? 64);
const WORKER_WAIT_MS = Number(process.env.BENCH_WORKER_WAIT_MS ?? 250);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const NATS = process.env.VIGIL_BENCH_NATS ?? '127.0.0.1:4222';
const PARTITIONS = 2;
const FIXTURE_PRIORITY = process.env.BENCH_FIXTURE_PRIORITY === undefined || process.env.BENCH_FIXTURE_PRIORITY === 'idle'
  ? 'idle' : Number(process.env.BENCH_FIXTURE_PRIORITY);
const WORKER_IDLE_SCHEDULING = process.env.BENCH_WORKER_IDLE_SCHEDULING ?? '1';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : NaN;
}

interface Stack { dir: string; postgresUrl: string; clickhouseUrl: string; caPem: string }

interface ScenarioResult {
  pairs: number; events: number; eventsPerS: number; cpuPer1000: { ingest: number; worker: number; total: number; clickhouse_fixture: number };
  ackP50: number; ackP99: number; serverAckP99: number; publishP99: number; ingestLoopDelayP99: number; agentsLoopLateP99: number; agentRetries: number; agentsNice: number;
}

/** The run whose total CPU per event is the median of `runs` (its other figures come with it). */
function median(runs: ScenarioResult[]): ScenarioResult {
  return [...runs].sort((a, b) => a.cpuPer1000.total - b.cpuPer1000.total)[Math.floor(runs.length / 2)];
}

const INGEST_HISTOGRAMS = ['vigil_ingest_ack_seconds', 'vigil_bus_publish_seconds'];

/** The highest event-loop delay p99 (ms) of the ingest processes since their previous scrape (a scrape resets it). */
async function ingestLoopDelayP99(ingests: RoleProcess[]): Promise<number> {
  const p99s = await Promise.all(ingests.map(async (p) => {
    const text = await (await fetch(`http://${p.addresses.health}/metrics`, { headers: metricsHeaders })).text();
    return Number(/^vigil_ingest_thread_loop_delay_seconds\{quantile="0.99"\} (\S+)/m.exec(text)?.[1] ?? NaN) * 1000;
  }));
  return round(Math.max(...p99s), 2);
}

/** The ingest processes' received → acknowledged and publish → PubAck histograms, each summed over the processes. */
async function ingestBuckets(ingests: RoleProcess[]): Promise<Buckets[]> {
  const sums = INGEST_HISTOGRAMS.map((): Buckets => new Map());
  for (const p of ingests) {
    const scraped = await scrapeHistograms(`http://${p.addresses.health}/metrics`, INGEST_HISTOGRAMS, metricsHeaders);
    INGEST_HISTOGRAMS.forEach((name, i) => {
      for (const [bound, n] of scraped.get(name)!) sums[i].set(bound, (sums[i].get(bound) ?? 0) + n);
    });
  }
  return sums;
}

/**
 * One agent: paced batches (rate / AGENTS events/s) from `batches`, encoded before the clock starts (so the
 * latency is the server's, not the generator's), each awaited; re-sent on failure.
 */
async function drive(agent: SimulatedAgent, batches: PreparedBatch[], rate: number, phase: number, until: number, latencies: number[], stats: { acked: number; retries: number }): Promise<void> {
  const intervalMs = (BATCH / (rate / AGENTS)) * 1000;
  let next = performance.now() + phase * intervalMs; // agents spread over the interval, as independent hosts are
  await sleep(phase * intervalMs);
  for (let batch = batches.shift(); batch && Date.now() < until; batch = batches.shift()) {
    for (;;) {
      try {
        const ack = await agent.sendPrepared(batch);
        latencies.push(ack.latencyMs);
        stats.acked += ack.accepted;
        break;
      } catch {
        stats.retries++;
        agent.close();
        await sleep(200);
        agent.connect();
      }
    }
    next += intervalMs;
    const wait = next - performance.now();
    if (wait > 0) await sleep(wait);
  }
}

async function storedCount(engine: ClickHouseHttpEngine): Promise<number> {
  const [r] = await engine.query<{ n: string }>("SELECT count() AS n FROM telemetry_events WHERE tenant_id = 'default'");
  return Number(r.n);
}

/**
 * `pairs` ingest processes, each with a worker unless `ingestOnly` (then the events wait in JetStream, as for
 * an ingest host whose workers and ClickHouse run elsewhere: its own ack latency, without their CPU here),
 * under `rate` events/s.
 */
async function scenario(pairs: number, s: Stack, fixturePid: number, engine: ClickHouseHttpEngine, rate = RATE, ingestOnly = false): Promise<ScenarioResult> {
  const namespace = `bench${randomBytes(4).toString('hex')}`;
  const env = {
    ...process.env, VIGIL_NATS_URL: `nats://${NATS}`, VIGIL_BUS_NAMESPACE: namespace, VIGIL_BUS_MAX_BYTES: String(2 * 2 ** 30), VIGIL_CLICKHOUSE_URL: s.clickhouseUrl,
    VIGIL_POSTGRES_URL: s.postgresUrl, VIGIL_PKI_DIR: join(s.dir, 'pki'),
    VIGIL_EVENT_PARTITIONS: String(PARTITIONS), VIGIL_HEALTH: '127.0.0.1:0', VIGIL_LOG_LEVEL: 'warn',
    VIGIL_WORKER_IDLE_SCHEDULING: WORKER_IDLE_SCHEDULING,
  };
  const roles: { role: 'ingest' | 'worker'; p: RoleProcess }[] = [];
  try {
    const grpcPorts: number[] = [];
    for (let i = 0; i < pairs; i++) {
      grpcPorts.push(await freePort());
      roles.push({ role: 'ingest', p: await spawnRole(['ingest', '--grpc', `127.0.0.1:${grpcPorts[i]}`], env) });
      if (!ingestOnly) roles.push({ role: 'worker', p: await spawnRole(['worker', '--worker-count', String(pairs), '--worker-index', String(i), '--worker-batch', String(WORKER_BATCH), '--pipeline-batch-wait-ms', String(WORKER_WAIT_MS)], env) });
    }
    const metadata = new PostgresMetadataStore({ connectionString: env.VIGIL_POSTGRES_URL });
    const agents = await Promise.all(Array.from({ length: AGENTS }, async (_, i) => {
      const { token } = await issueEnrollmentToken(metadata, 'default', 60_000, 1);
      return SimulatedAgent.enroll(`127.0.0.1:${grpcPorts[i % pairs]}`, s.caPem, token, `bench-${pairs}-${i}`);
    }));
    await metadata.close();

    const prepare = (seconds: number) => agents.map((a) => Array.from({ length: Math.ceil((seconds * rate) / AGENTS / BATCH) + 1 }, () => a.prepare(a.syntheticEvents(BATCH))));
    const [warmup, measured] = [prepare(WARMUP_SECONDS), prepare(SECONDS)];
    for (const a of agents) a.connect();
    const stats = { acked: 0, retries: 0 };
    const before = await storedCount(engine);
    const load = async (batches: PreparedBatch[][], seconds: number, latencies: number[]) => {
      await Promise.all(agents.map((a, i) => drive(a, batches[i], rate, i / AGENTS, Date.now() + seconds * 1000, latencies, stats)));
    };
    const stored = async () => (await storedCount(engine)) - before;
    const untilStored = async () => {
      for (let i = 0; !ingestOnly && i < 1200 && (await stored()) < stats.acked; i++) await sleep(100);
    };
    await load(warmup, WARMUP_SECONDS, []);
    await untilStored();
    const [warmAcked, warmStored] = [stats.acked, ingestOnly ? stats.acked : await stored()];
    const cpu0 = roles.map((r) => cpuSeconds(r.p.child.pid!));
    const fixtureCpu0 = cpuSeconds(fixturePid);
    const ingests = roles.filter((r) => r.role === 'ingest').map((r) => r.p);
    const ingest0 = await ingestBuckets(ingests);
    await ingestLoopDelayP99(ingests);
    const latencies: number[] = [];
    const started = performance.now();
    const { agentsNice, loopLate } = await withAgentPriority(() => load(measured, SECONDS, latencies));
    for (const a of agents) a.close();
    const [serverAck, publish] = (await ingestBuckets(ingests)).map((after, i) => bucketQuantiles(ingest0[i], after));
    const loopDelayP99 = await ingestLoopDelayP99(ingests);
    await untilStored();
    const elapsedS = (performance.now() - started) / 1000;
    const totalStored = ingestOnly ? stats.acked : await stored();
    const events = totalStored - warmStored;
    const cpu = roles.map((r, i) => ({ role: r.role, s: cpuSeconds(r.p.child.pid!) - cpu0[i] }));
    const per1000 = (role: string) => round(cpu.filter((c) => c.role === role).reduce((a, c) => a + c.s, 0) / events * 1000, 4);
    latencies.sort((a, b) => a - b);
    const result: ScenarioResult = {
      pairs, events, eventsPerS: Math.round(events / elapsedS),
      cpuPer1000: { ingest: per1000('ingest'), worker: per1000('worker'), total: round(per1000('ingest') + per1000('worker'), 4),
        clickhouse_fixture: round((cpuSeconds(fixturePid) - fixtureCpu0) / events * 1000, 4) },
      ackP50: round(percentile(latencies, 0.5), 2), ackP99: round(percentile(latencies, 0.99), 2),
      serverAckP99: serverAck.p99, publishP99: publish.p99, ingestLoopDelayP99: loopDelayP99, agentsLoopLateP99: loopLate.p99, agentRetries: stats.retries, agentsNice,
    };
    if (totalStored !== stats.acked) throw new Error(`stored ${totalStored} events but ${stats.acked} were acknowledged`);
    if (warmStored !== warmAcked) throw new Error(`warm-up: stored ${warmStored} events but ${warmAcked} were acknowledged`);
    console.log(JSON.stringify({ scenario: ingestOnly ? `${pairs} ingest process(es), no workers (acknowledged, not stored)` : `${pairs} ingest+worker pair(s)`, offered_events_per_s: rate, ...result }));
    return result;
  } finally {
    for (const r of roles) await stopProcess(r.p.child, 'SIGTERM');
    await JetStreamBus.deleteStreams(NATS, namespace);
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-scale-'));
  const db = await createTempDatabase('bench_scale');
  const fixture = await spawnClickHouseFixture(join(dir, 'clickhouse'), { priority: FIXTURE_PRIORITY });
  const engine = new ClickHouseHttpEngine({ url: fixture.url });
  try {
    mkdirSync(join(dir, 'pki'), { mode: 0o700 });
    const stack: Stack = { dir, postgresUrl: db.url, clickhouseUrl: fixture.url, caPem: (await loadOrCreateCa(join(dir, 'pki'))).certPem };
    console.log(`bench:scale: ${RATE} events/s offered for ${SECONDS} s by ${AGENTS} agents in batches of ${BATCH}; ` +
      `${PARTITIONS} event partitions; ${WORKER_BATCH} bus messages per ClickHouse insert (≤ ${WORKER_BATCH * BATCH} events, waiting ≤ ${WORKER_WAIT_MS} ms to fill)`);
    // One pair, two pairs and one pair at half the rate (each process then carries what each of two pairs
    // carries) alternate ROUNDS times: the machine's drift then weighs on all alike.
    const [ones, twos, halves]: ScenarioResult[][] = [[], [], []];
    for (let r = 0; r < ROUNDS; r++) {
      ones.push(await scenario(1, stack, fixture.child.pid!, engine));
      twos.push(await scenario(2, stack, fixture.child.pid!, engine));
      halves.push(await scenario(1, stack, fixture.child.pid!, engine, RATE / 2));
    }
    const [one, two, half] = [median(ones), median(twos), median(halves)];
    const ingestOnly = await scenario(1, stack, fixture.child.pid!, engine, RATE, true);
    console.log(JSON.stringify({
      bench: 'scale', events_per_s_1: one.eventsPerS, events_per_s_2: two.eventsPerS,
      cpu_s_per_1000_1: one.cpuPer1000.total, cpu_s_per_1000_2: two.cpuPer1000.total,
      cpu_ratio_2_to_1: round(two.cpuPer1000.total / one.cpuPer1000.total, 3),
      cpu_s_per_1000_1_runs: ones.map((r) => r.cpuPer1000.total), cpu_s_per_1000_2_runs: twos.map((r) => r.cpuPer1000.total),
      cpu_s_per_1000_1_half_rate: half.cpuPer1000.total, cpu_s_per_1000_1_half_rate_runs: halves.map((r) => r.cpuPer1000.total),
      cpu_ratio_2_to_1_same_load_per_pair: round(two.cpuPer1000.total / half.cpuPer1000.total, 3),
      ack_p50_ms: Math.max(one.ackP50, two.ackP50), ack_p99_ms: Math.max(one.ackP99, two.ackP99),
      ack_p99_ms_1: one.ackP99, ack_p99_ms_2: two.ackP99, ack_p50_ms_ingest_only: ingestOnly.ackP50, ack_p99_ms_ingest_only: ingestOnly.ackP99,
      server_ack_p99_ms_1: one.serverAckP99, server_ack_p99_ms_2: two.serverAckP99, server_ack_p99_ms_ingest_only: ingestOnly.serverAckP99,
      publish_p99_ms_1: one.publishP99, publish_p99_ms_2: two.publishP99, publish_p99_ms_ingest_only: ingestOnly.publishP99,
      agents_loop_late_p99_ms_1: one.agentsLoopLateP99, agents_loop_late_p99_ms_2: two.agentsLoopLateP99,
      ingest_loop_delay_p99_ms_1: one.ingestLoopDelayP99, ingest_loop_delay_p99_ms_2: two.ingestLoopDelayP99, ingest_loop_delay_p99_ms_ingest_only: ingestOnly.ingestLoopDelayP99,
      offered_events_per_s: RATE, agents_nice: one.agentsNice, fixture_priority: FIXTURE_PRIORITY, worker_idle_scheduling: WORKER_IDLE_SCHEDULING === '1',
    }));
  } finally {
    await engine.close();
    await fixture.stop();
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
