// Ingest benchmark: simulated agents stream over loopback gRPC (mutual TLS) into a `vigil up --no-agent`
// server process; an event counts only once the server acknowledged its batch, i.e. after it is durable
// (fsynced) on the server's bus log, from which the pipeline stores it in the event store (the throughput
// phase then waits for the pipeline to catch up and says how long it took). Two phases:
//   1. throughput: agents send as fast as acknowledgements allow (a window of batches in flight each);
//      batches are encoded before the clock starts, so the figure is the server's, not the generator's;
//   2. latency: a fixed 10,000 events/s (100-event batches at a steady pace); ack latency p50/p99 at the agents,
//      and from the server's histograms: received → acknowledged, and the bus log's write + fdatasync (the disk's share).
//      The agents (this process's main thread) run at the ingest thread's CPU priority meanwhile, as root
//      (bench/support/agent-priority.ts; BENCH_AGENTS_NICE=0 measures without it): they stand for other hosts.
// Last line: {"bench":"ingest","events_per_s":…,"ack_p50_ms":…,"ack_p99_ms":…}
// A sustained phase, when asked for (`--phases sustained`; `--sustained-seconds`, default 60, 300 for the issue's
// 5 minutes): agents send as fast as acknowledgements allow, events made as they go (the generator's CPU shares the
// cores), while the pipeline stores and detects them (SigmaHQ's Linux rules loaded, --rules); reported: events
// acknowledged per s, the bus backlog at the end (messages), how long the pipeline then took to store it, and
// events stored and detected per s (acknowledged / (phase + drain)). The server's pipeline can be profiled meanwhile with
// VIGIL_CHILD_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" (the profile is written when the server stops).
// A third phase, only when asked for (`--phases decode`), runs in this process: the ingest thread's CPU time
// per event for its work on a batch (decode → validate → encode for the bus log) on the simulated agents'
// batches, and the garbage collections that work causes (median of repeated rounds).
//
// Usage: npm run bench:ingest [-- --seconds 15 --agents 8 --batch 500 --window 4 --rate 10000 --phases throughput,latency,sustained,decode
//        --sustained-seconds 60 --rules DIR|none --server-cpus 0 --agents-cpus 1]   (--rules: Sigma rules the server loads,
//        default SigmaHQ's Linux rules; --server-cpus / --agents-cpus: `taskset -a -p -c LIST` on the server process and on
//        this one, the simulated agents, once the server runs, so that the agents stand on other cores than the server)
//        --bus-dir DIR --bus-sync-ms MS]   (--bus-dir: the bus log in DIR, e.g. on another device, through a symlink
//        <data-dir>/bus; --bus-sync-ms: the server's `vigil up --bus-sync-ms`, acks once written, synced within MS)
// Env: VIGIL_CHILD_NODE_ARGS node flags for the server (e.g. "--trace-gc"), VIGIL_BENCH_SERVER_LOG=FILE: the
// server's output is written to FILE at the end.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver, constants as perf } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { SimulatedAgent, type PreparedBatch } from '../src/agent/simulator.ts';
import { decodeAgentMessage } from '../src/schema/wire.ts';
import { acceptBatch, encodeAcceptedBatch } from '../src/server/ingest-batch.ts';
import { startVigil, type VigilProcess } from '../test/support/vigil-process.ts';
import { withAgentPriority } from './support/agent-priority.ts';
import { bucketQuantiles, scrapeHistograms } from './support/prometheus.ts';

const { values } = parseArgs({ options: {
  seconds: { type: 'string', default: '15' }, agents: { type: 'string', default: '8' },
  batch: { type: 'string', default: '500' }, window: { type: 'string', default: '4' }, rate: { type: 'string', default: '10000' },
  phases: { type: 'string', default: 'throughput,latency' }, 'bus-dir': { type: 'string' }, 'bus-sync-ms': { type: 'string', default: '0' },
  'sustained-seconds': { type: 'string', default: '60' }, rules: { type: 'string', default: '/work/shared/sigma/rules/linux' },
  'server-cpus': { type: 'string' }, 'agents-cpus': { type: 'string' },
} });
const phases = new Set(values.phases.split(','));
const seconds = Number(values.seconds);
const agentCount = Number(values.agents);
const batchSize = Number(values.batch);
const window = Number(values.window);
const rate = Number(values.rate);
const MAX_RATE = 120_000; // events prepared for the throughput phase: enough for this rate over its whole duration

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;

async function enrolAgents(server: VigilProcess, caPem: string, n: number): Promise<SimulatedAgent[]> {
  const res = await fetch(`${server.apiUrl}/api/v1/enrollment-tokens`, {
    method: 'POST', headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ max_uses: n }),
  });
  const { token } = await res.json() as { token: string };
  const agents = await Promise.all(Array.from({ length: n }, (_, i) => SimulatedAgent.enroll(server.grpcAddress, caPem, token, `sim-${i}`)));
  for (const a of agents) a.connect();
  return agents;
}

/** Encodes `batches` batches of `size` fresh events per agent ahead of the measured time. */
function prepareAll(agents: SimulatedAgent[], batches: number, size: number): PreparedBatch[][] {
  return agents.map((a) => Array.from({ length: batches }, () => a.prepare(a.syntheticEvents(size))));
}

/** Each agent keeps `window` batches in flight until the deadline; returns acknowledged events. */
async function throughputPhase(agents: SimulatedAgent[]): Promise<{ events: number; seconds: number; latencies: number[] }> {
  const prepared = prepareAll(agents, Math.ceil((MAX_RATE * seconds) / batchSize / agents.length), batchSize);
  const latencies: number[] = [];
  let events = 0;
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  const lane = async (queue: PreparedBatch[], a: SimulatedAgent) => {
    for (let b = queue.shift(); b && performance.now() < deadline; b = queue.shift()) {
      const ack = await a.sendPrepared(b);
      events += ack.accepted;
      latencies.push(ack.latencyMs);
    }
  };
  await Promise.all(agents.flatMap((a, i) => Array.from({ length: window }, () => lane(prepared[i], a))));
  return { events, seconds: (performance.now() - t0) / 1000, latencies };
}

const LATENCY_BATCH = 100;
const latencyBatches = () => Math.floor((rate * seconds) / LATENCY_BATCH);

/** A steady `rate` events/s in 100-event batches (`prepared`) spread over the agents; returns every ack latency. */
async function latencyPhase(agents: SimulatedAgent[], prepared: PreparedBatch[][]): Promise<{ events: number; latencies: number[]; late: number }> {
  const intervalMs = (1000 * LATENCY_BATCH) / rate;
  const total = latencyBatches();
  const latencies: number[] = [];
  const pending: Promise<void>[] = [];
  let events = 0;
  let late = 0;
  const t0 = performance.now();
  for (let i = 0; i < total; i++) {
    const due = t0 + i * intervalMs;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    else if (wait < -50) late++;
    const k = i % agents.length;
    pending.push(agents[k].sendPrepared(prepared[k].shift()!).then((ack) => { events += ack.accepted; latencies.push(ack.latencyMs); }));
  }
  await Promise.all(pending);
  return { events, latencies, late };
}

/** How late the ingest thread's event loop ran since the previous scrape (p99 and max, ms). */
async function ingestLoopDelay(server: VigilProcess): Promise<{ p99: number; max: number }> {
  const text = await (await fetch(`${server.apiUrl}/metrics`, { headers: { authorization: `Bearer ${server.metricsToken}` } })).text();
  const q = (quantile: string) => round(Number(new RegExp(`^vigil_ingest_thread_loop_delay_seconds\\{quantile="${quantile}"\\} (\\S+)`, 'm').exec(text)?.[1] ?? NaN) * 1000);
  return { p99: q('0.99'), max: q('1') };
}

/** Waits until the pipeline has stored everything acknowledged so far (the bus backlog is empty); returns the seconds waited. */
async function waitForEmptyBacklog(server: VigilProcess): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const text = await (await fetch(`${server.apiUrl}/metrics`, { headers: { authorization: `Bearer ${server.metricsToken}` } })).text();
    const m = /^vigil_bus_backlog_messages (\d+)/m.exec(text);
    if (m && Number(m[1]) === 0) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const waited = (performance.now() - t0) / 1000;
  console.log(`pipeline caught up ${round(waited)} s after the phase`);
  return waited;
}

/** The ingest thread's work on one batch's bytes, as ingest.ts and ingest-thread-entry.ts do it; returns the log's payload. */
function ingestWork(id: { agentId: string; tenantId: string }, frame: Buffer): Uint8Array {
  const msg = decodeAgentMessage(frame);
  if (msg.body !== 'batch') throw new Error('not a batch');
  const { batch, errors } = acceptBatch({ agentId: id.agentId, tenantId: id.tenantId, ingested: new Date().toISOString() }, frame, msg.batch.events);
  if (errors.length) throw new Error(`rejected: ${errors[0].error}`);
  return encodeAcceptedBatch(batch);
}

/** CPU µs per event of ingestWork (median of rounds over the same batches) and the collections it caused per 100,000 events. */
async function decodePhase(agent: SimulatedAgent): Promise<{ us_per_event: number; scavenges: number; mark_compacts: number; gc_ms: number }> {
  const frames = Array.from({ length: 100 }, () => agent.prepare(agent.syntheticEvents(batchSize)).frame);
  const id = agent.identity;
  const gcs: PerformanceEntry[] = [];
  const rounds: number[] = [];
  let events = 0;
  for (const f of frames.slice(0, 10)) ingestWork(id, f); // warm-up (optimised code)
  const observer = new PerformanceObserver((list) => gcs.push(...list.getEntries()));
  observer.observe({ entryTypes: ['gc'] });
  for (let r = 0; r < 9; r++) {
    const cpu = process.cpuUsage();
    for (const f of frames) ingestWork(id, f);
    const used = process.cpuUsage(cpu);
    rounds.push((used.user + used.system) / (frames.length * batchSize));
    events += frames.length * batchSize;
    await new Promise((r) => setImmediate(r)); // lets the GC entries arrive
  }
  observer.disconnect();
  const per100k = (n: number) => round((n * 100_000) / events, 1);
  const kind = (k: number) => gcs.filter((e) => (e as PerformanceEntry & { detail?: { kind: number } }).detail?.kind === k).length;
  const sorted = rounds.sort((a, b) => a - b);
  const out = {
    us_per_event: round(sorted[Math.floor(sorted.length / 2)]), scavenges: per100k(kind(perf.NODE_PERFORMANCE_GC_MINOR)),
    mark_compacts: per100k(kind(perf.NODE_PERFORMANCE_GC_MAJOR)), gc_ms: per100k(gcs.reduce((s, e) => s + e.duration, 0)),
  };
  console.log(`decode: the ingest thread's work on a batch of ${batchSize} (decode → validate → encode for the log): ${out.us_per_event} µs CPU per event `
    + `(rounds ${sorted.map((x) => round(x, 1)).join(' ')}); per 100,000 events ${out.scavenges} scavenges, ${out.mark_compacts} mark-compacts, ${out.gc_ms} ms in GC`);
  return out;
}

async function reportThroughput(server: VigilProcess, agents: SimulatedAgent[]): Promise<Record<string, number>> {
  const tp = await throughputPhase(agents);
  const sorted = tp.latencies.sort((a, b) => a - b);
  const eventsPerS = tp.events / tp.seconds;
  console.log(`throughput: ${tp.events} events acknowledged in ${round(tp.seconds)} s = ${Math.round(eventsPerS)} events/s `
    + `(${agentCount} agents × ${window} batches of ${batchSize} in flight; ack p50 ${round(percentile(sorted, 50))} ms, p99 ${round(percentile(sorted, 99))} ms)`);
  await waitForEmptyBacklog(server);
  return { events_per_s: Math.round(eventsPerS), throughput_ack_p99_ms: round(percentile(sorted, 99)) };
}

async function metricValue(server: VigilProcess, name: string): Promise<number> {
  const text = await (await fetch(`${server.apiUrl}/metrics`, { headers: { authorization: `Bearer ${server.metricsToken}` } })).text();
  return Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? NaN);
}

/**
 * Agents send as fast as acks allow for --sustained-seconds (events made as they go), then the pipeline drains the
 * backlog: stored events/s = events acknowledged / (the phase + the drain), what the pipeline stored and detected per s.
 */
async function reportSustained(server: VigilProcess, agents: SimulatedAgent[]): Promise<Record<string, number>> {
  const sustainedSeconds = Number(values['sustained-seconds']);
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  let acked = 0;
  const t0 = performance.now();
  const deadline = t0 + sustainedSeconds * 1000;
  const lane = async (a: SimulatedAgent) => {
    while (performance.now() < deadline) {
      const ack = await a.send(a.syntheticEvents(batchSize)); // not `acked += await …`: that reads `acked` before the await
      acked += ack.accepted;
    }
  };
  await Promise.all(agents.flatMap((a) => Array.from({ length: window }, () => lane(a))));
  const elapsed = (performance.now() - t0) / 1000;
  const backlog = await metricValue(server, 'vigil_bus_backlog_messages');
  const drainS = await waitForEmptyBacklog(server);
  const out = {
    sustained_seconds: round(elapsed, 1), sustained_acked_per_s: Math.round(acked / elapsed), sustained_backlog_messages: backlog,
    sustained_drain_s: round(drainS, 1), sustained_stored_per_s: Math.round(acked / (elapsed + drainS)),
  };
  console.log(`sustained ${out.sustained_seconds} s (rules ${values.rules}; load before ${load}): ${acked} events acknowledged = ${out.sustained_acked_per_s} events/s; `
    + `bus backlog at the end ${backlog} messages, stored ${out.sustained_drain_s} s later: ${out.sustained_stored_per_s} events/s stored and detected`);
  return out;
}

async function reportLatency(server: VigilProcess, agents: SimulatedAgent[]): Promise<Record<string, number>> {
  const SERVER_HISTOGRAMS = ['vigil_ingest_ack_seconds', 'vigil_bus_log_commit_seconds'];
  const before = await scrapeHistograms(`${server.apiUrl}/metrics`, SERVER_HISTOGRAMS, { authorization: `Bearer ${server.metricsToken}` }); // a scrape also resets the loop delay's statistics
  const prepared = prepareAll(agents, Math.ceil(latencyBatches() / agents.length), LATENCY_BATCH);
  const { result: lat, agentsNice, loopLate } = await withAgentPriority(() => latencyPhase(agents, prepared));
  const loop = await ingestLoopDelay(server);
  const after = await scrapeHistograms(`${server.apiUrl}/metrics`, SERVER_HISTOGRAMS, { authorization: `Bearer ${server.metricsToken}` });
  const [serverSide, commit] = SERVER_HISTOGRAMS.map((n) => bucketQuantiles(before.get(n)!, after.get(n)!));
  const sorted = lat.latencies.sort((a, b) => a - b);
  console.log(`latency at ${rate} events/s: ${lat.events} events, ack p50 ${round(percentile(sorted, 50))} ms, `
    + `p99 ${round(percentile(sorted, 99))} ms, max ${round(sorted.at(-1) ?? 0)} ms (${lat.late} batches sent late by the generator); `
    + `in the server (received → acknowledged, histogram upper bounds): p50 ≤ ${serverSide.p50} ms, p99 ≤ ${serverSide.p99} ms, `
    + `of which the bus log's write + fdatasync: p50 ≤ ${commit.p50} ms, p99 ≤ ${commit.p99} ms; `
    + `the ingest thread's event loop ran late by p99 ${loop.p99} ms, max ${loop.max} ms; `
    + `the simulated agents' own event loop (this process, nice ${agentsNice}) ran late by p99 ${loopLate.p99} ms, max ${loopLate.max} ms`);
  return {
    ack_p50_ms: round(percentile(sorted, 50)), ack_p99_ms: round(percentile(sorted, 99)), server_ack_p50_ms: serverSide.p50, server_ack_p99_ms: serverSide.p99,
    log_commit_p50_ms: commit.p50, log_commit_p99_ms: commit.p99, ingest_loop_delay_p99_ms: loop.p99, ingest_loop_delay_max_ms: loop.max,
    agents_loop_late_p99_ms: loopLate.p99, agents_nice: agentsNice, rate_for_latency: rate,
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-ingest-'));
  const busDir = values['bus-dir'] ? mkdtempSync(join(values['bus-dir'], 'vigil-bench-bus-')) : undefined;
  if (busDir) symlinkSync(busDir, join(dir, 'bus'));
  const rules = values.rules === 'none' ? [] : ['--rules', values.rules];
  const server = await startVigil(['up', '--no-agent', '--data-dir', dir, '--http', '127.0.0.1:0', '--grpc', '127.0.0.1:0', '--bus-sync-ms', values['bus-sync-ms'], ...rules], dir, 300_000);
  if (values['server-cpus']) execFileSync('taskset', ['-a', '-p', '-c', values['server-cpus'], String(server.child.pid)], { stdio: 'ignore' });
  if (values['agents-cpus']) execFileSync('taskset', ['-a', '-p', '-c', values['agents-cpus'], String(process.pid)], { stdio: 'ignore' });
  try {
    const caPem = readFileSync(join(dir, 'pki', 'ca.pem'), 'utf8');
    const agents = await enrolAgents(server, caPem, agentCount);
    const summary: Record<string, number | string> = { agents: agentCount, batch: batchSize, bus_sync_ms: Number(values['bus-sync-ms']),
      server_cpus: values['server-cpus'] ?? 'any', agents_cpus: values['agents-cpus'] ?? 'any' };
    if (phases.has('throughput')) Object.assign(summary, await reportThroughput(server, agents));
    if (phases.has('latency')) Object.assign(summary, await reportLatency(server, agents));
    if (phases.has('sustained')) Object.assign(summary, await reportSustained(server, agents));
    if (phases.has('decode')) Object.assign(summary, Object.fromEntries(Object.entries(await decodePhase(agents[0])).map(([k, v]) => [`decode_${k}`, v])));
    for (const a of agents) a.close();
    console.log(JSON.stringify({ bench: 'ingest', ...summary, rules: values.rules, loadavg: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ') }));
  } finally {
    await server.stop('SIGTERM');
    if (process.env.VIGIL_BENCH_SERVER_LOG) writeFileSync(process.env.VIGIL_BENCH_SERVER_LOG, server.output());
    rmSync(dir, { recursive: true, force: true });
    if (busDir) rmSync(busDir, { recursive: true, force: true });
  }
}

await main();
