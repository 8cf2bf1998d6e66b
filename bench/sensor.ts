// Sensor benchmark: the production agent (`vigil agent --sensor ebpf`, its own process, which runs the
// real eBPF sensor as its child) streaming to a stub ingest endpoint in this process, under exec storms
// at rising rates made by vigil-trigger processes. The agent does everything it does in production
// (decode → process cache enrichment → schema event → batch encoding → spool → mutual-TLS gRPC); the stub
// only decodes batches, counts the storm's execs and acknowledges. Per step: execs started vs received
// (% lost: never received, waiting as long as events still arrive, and how long after the storm the last
// one came), CPU % of one core of the agent process (and its system part) and of the sensor process; at
// the end their peak RSS (VmHWM) and the sensor's drop count. Needs root, BTF and `make -C sensor`.
// Last line: {"bench":"sensor","lost_pct_at_5000":…,"rss_mb":…,"idle_rss_mb":…,"idle_anon_mb":…,"idle_file_mb":…,"idle_pss_mb":…,"cpu_idle_pct":…,"cpu_1000_pct":…,"max_rate":…}
// (memory at rest and after the storms from /proc/<pid>/smaps_rollup: RSS split into anonymous and file-backed, and PSS, agent + sensor)
//
// Before the idle and storm steps, a warm-up storm (333 exec/s) runs the event path until V8 has compiled
// it: an agent runs for days, so its cost is measured warm, not while its code is first optimised.
//
// The storms exec vigil-noop (a static program with no C library that only exits) by default: /bin/true
// costs ≈ 1 ms of CPU per exec in ld.so and libc start-up, which caps two cores near 2,000 exec/s before
// any sensor runs, so the 5,000/s step could not be reached with it. `--exec /bin/true` runs the old storms.
//
// Usage: npm run bench:sensor [-- --idle-seconds 10 --step-seconds 3 --spawners 4 --warmup-seconds 15 --exec PATH]

import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_SENSOR_BINARY, detectEnvironment, ebpfUnavailableReason } from '../src/agent/sensors/select.ts';
import { encodeServerMessage } from '../src/schema/wire.ts';
import { CLK_TCK, cpuTicks, memorySplit, rssMb, type MemorySplit } from './support/proc-stats.ts';
import { benchAgentDirs, startStubIngest, type StubAgentMessage } from './support/stub-ingest.ts';

const { values } = parseArgs({ options: {
  'idle-seconds': { type: 'string', default: '10' }, 'step-seconds': { type: 'string', default: '3' },
  spawners: { type: 'string', default: '4' }, 'warmup-seconds': { type: 'string', default: '15' },
  exec: { type: 'string', default: join(DEFAULT_SENSOR_BINARY, '..', 'vigil-noop') },
} });
const idleSeconds = Number(values['idle-seconds']);
const stepSeconds = Number(values['step-seconds']);
const spawners = Number(values.spawners);
const TRIGGER = join(DEFAULT_SENSOR_BINARY, '..', 'vigil-trigger');
const VIGIL_BIN = fileURLToPath(new URL('../bin/vigil.js', import.meta.url));
const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const unavailable = ebpfUnavailableReason(detectEnvironment(DEFAULT_SENSOR_BINARY), DEFAULT_SENSOR_BINARY);
if (unavailable) {
  console.error(`bench:sensor: ${unavailable}`);
  process.exit(2);
}

// ---- the agent's identity (it starts enrolled) and the stub ingest endpoint: counts events and the storm's execs ----
const { workDir, agentDir, caFile, serverCredentials } = await benchAgentDirs('vigil-bench-sensor-');
let events = 0;
const capturedBy = new Map<string, number>(); // storm marker → its execs received, whenever they arrive
let sensorDrops = 0;
let onHeartbeat: (() => void) | undefined;

function onAgentMessage(msg: StubAgentMessage): void {
  if (msg.heartbeat) {
    sensorDrops = Number(msg.heartbeat.sensor_drops ?? 0);
    onHeartbeat?.();
  }
  if (!msg.batch) return;
  events += msg.batch.events.length;
  for (const e of msg.batch.events) {
    const arg = e.event?.type === 'process_start' ? e.process?.args?.[1] : undefined;
    if (!arg?.startsWith('vigil-bench-')) continue;
    for (const [m, n] of capturedBy) if (arg.startsWith(m)) capturedBy.set(m, n + 1);
  }
}

const ingest = await startStubIngest(serverCredentials, onAgentMessage);
const port = ingest.port;

/** Asks the agent to reconnect; it sends a heartbeat (with the sensor's drop count) on the new stream. */
async function freshHeartbeat(): Promise<void> {
  const got = new Promise<void>((resolve) => (onHeartbeat = resolve));
  ingest.stream()?.write(encodeServerMessage({ command: { id: '', action: 'reconnect' } }));
  await Promise.race([got, sleep(5000)]);
}

// ---- the agent process ----
const agent = spawn(process.execPath, [VIGIL_BIN, 'agent', '--server', `127.0.0.1:${port}`, '--ca', caFile,
  '--data-dir', agentDir, '--sensor', 'ebpf'], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, VIGIL_LOG_LEVEL: 'warn' } });
const agentExited = new Promise<void>((resolve) => agent.once('exit', () => resolve()));
// Stopped early (Ctrl-C, a timeout) or failed: the agent stops too, and with it its privileged sensor.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
process.once('exit', () => { if (agent.exitCode === null) agent.kill('SIGTERM'); });
for (let waited = 0; !ingest.stream(); waited += 100) {
  if (agent.exitCode !== null || waited > 30_000) throw new Error('bench:sensor: the agent did not connect');
  await sleep(100);
}
const agentPid = agent.pid!;
const sensorPid = childPids(agentPid).find((pid) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'vigil-sensor');
if (!sensorPid) throw new Error('bench:sensor: the agent runs no vigil-sensor child');

function childPids(pid: number): number[] {
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ').filter(Boolean).map(Number);
}

// ---- measurement ----
interface Usage { at: number; agentTicks: number; agentSysTicks: number; sensorTicks: number }

function usage(): Usage {
  const agent = cpuTicks(agentPid);
  const sensor = cpuTicks(sensorPid!);
  return { at: performance.now(), agentTicks: agent.user + agent.sys, agentSysTicks: agent.sys, sensorTicks: sensor.user + sensor.sys };
}

function cpuPct(a: Usage, b: Usage): { agent: number; agentSys: number; sensor: number } {
  const wallMs = b.at - a.at;
  const pct = (ticks: number) => ((ticks * 1000) / CLK_TCK / wallMs) * 100;
  return { agent: pct(b.agentTicks - a.agentTicks), agentSys: pct(b.agentSysTicks - a.agentSysTicks), sensor: pct(b.sensorTicks - a.sensorTicks) };
}

/** Runs `parallel` vigil-trigger storms sharing `rate`; resolves with the execs they started. */
async function storm(rate: number, parallel: number, tag: string, seconds = stepSeconds): Promise<{ started: number; seconds: number }> {
  const runs = Array.from({ length: parallel }, (_, i) => new Promise<{ started: number; seconds: number }>((resolve, reject) => {
    const child = spawn(TRIGGER, ['storm', String(rate / parallel), String(seconds), `${tag}-${i}`, values.exec], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`vigil-trigger exited ${code}`))));
  }));
  const results = await Promise.all(runs);
  return { started: results.reduce((n, r) => n + r.started, 0), seconds: Math.max(...results.map((r) => r.seconds)) };
}

interface Step {
  target: number; marker: string; rate: number; started: number; captured: number; lostPct: number;
  cpuAgent: number; cpuAgentSys: number; cpuSensor: number; eventsPerS: number; drainS: number;
}

async function step(target: number, parallel: number): Promise<Step> {
  const marker = `vigil-bench-${target}-${Date.now()}`;
  capturedBy.set(marker, 0);
  const captured = () => capturedBy.get(marker)!;
  const events0 = events;
  const u0 = usage();
  const s = await storm(target, parallel, marker);
  // Drain: batches leave every second, and a server that acknowledges slower than the storm leaves a
  // backlog in the agent's spool. Wait while events still arrive (late ones still count, see the end).
  const stormEnd = performance.now();
  for (let stalled = 0; captured() < s.started && stalled < 5000; ) {
    const before = captured();
    await sleep(100);
    stalled = captured() > before ? 0 : stalled + 100;
  }
  const drainS = round((performance.now() - stormEnd) / 1000, 1);
  // CPU over the storm's seconds, counting the drain too: the processes' work for the storm's events.
  const cpu = cpuPct(u0, { ...usage(), at: u0.at + s.seconds * 1000 });
  const r: Step = {
    target, marker, rate: Math.round(s.started / s.seconds), started: s.started, captured: captured(),
    lostPct: round(((s.started - captured()) / s.started) * 100, 3),
    cpuAgent: round(cpu.agent), cpuAgentSys: round(cpu.agentSys), cpuSensor: round(cpu.sensor), eventsPerS: Math.round((events - events0) / s.seconds), drainS,
  };
  console.log(`storm target ${target}/s: ${r.rate} exec/s achieved, ${r.captured}/${s.started} received (${r.lostPct} % missing; last ${drainS} s after the storm), ` +
    `${r.eventsPerS} events/s; CPU agent ${r.cpuAgent} % (system ${r.cpuAgentSys} %), sensor ${r.cpuSensor} %`);
  return r;
}

await storm(333, 1, 'vigil-warmup', Number(values['warmup-seconds']));
await sleep(3000); // the warm-up's last batches and start-up work settle
const i0 = usage();
const eventsIdle0 = events;
await sleep(idleSeconds * 1000);
const idle = cpuPct(i0, usage());
const idleRss = rssMb(agentPid, 'VmRSS');
const idleAgentMem = memorySplit(agentPid);
const idleSensorMem = memorySplit(sensorPid);
const showMem = (m: MemorySplit) => `RSS ${m.rss} MB (anonymous ${m.anon}, file-backed ${m.file}), PSS ${m.pss} MB (anonymous ${m.pssAnon}, file ${m.pssFile})`;
console.log(`idle ${idleSeconds} s: CPU agent ${round(idle.agent)} % (system ${round(idle.agentSys)} %), sensor ${round(idle.sensor)} % ` +
  `(${round((events - eventsIdle0) / idleSeconds)} events/s from the rest of this host); agent ${showMem(idleAgentMem)}; sensor ${showMem(idleSensorMem)}`);

const steps: Step[] = [];
steps.push(await step(333, 1)); // ≈1,000 events/s: fork + exec + exit per process
for (const target of [1000, 2000, 5000, 10_000]) steps.push(await step(target, spawners));

// Lost is what never arrives: wait until nothing more comes for 10 s, then count again.
for (let stalled = 0, total = -1; stalled < 10_000; stalled += 500) {
  const now = [...capturedBy.values()].reduce((a, b) => a + b, 0);
  if (now !== total) [total, stalled] = [now, 0];
  await sleep(500);
}
for (const st of steps) {
  st.captured = capturedBy.get(st.marker)!;
  st.lostPct = round(((st.started - st.captured) / st.started) * 100, 3);
}
console.log(`finally received: ${steps.map((st) => `${st.target}/s ${st.captured}/${st.started} (${st.lostPct} % lost)`).join(', ')}`);

await freshHeartbeat();
const agentRss = rssMb(agentPid, 'VmHWM');
const agentFileRss = rssMb(agentPid, 'RssFile'); // mapped files: mostly the node binary's pages, shared with other node processes
const sensorRss = rssMb(sensorPid, 'VmHWM');
const endAgentMem = memorySplit(agentPid);
const endSensorMem = memorySplit(sensorPid);
console.log(`after the storms: agent ${showMem(endAgentMem)}; sensor ${showMem(endSensorMem)}`);
console.log(`RSS peak: agent ${round(agentRss, 1)} MB (now ${round(rssMb(agentPid, 'VmRSS'), 1)} MB of which ${round(agentFileRss, 1)} MB mapped files, ` +
  `idle ${round(idleRss, 1)} MB), sensor ${round(sensorRss, 1)} MB (now ${round(rssMb(sensorPid, 'VmRSS'), 1)} MB); sensor drops ${sensorDrops}`);
agent.kill('SIGTERM');
await agentExited;
ingest.close();
rmSync(workDir, { recursive: true, force: true });

const at5000 = steps.find((s) => s.target === 5000)!;
const at1000events = steps[0];
const best = steps.reduce((a, b) => (b.rate > a.rate ? b : a));
console.log(`storms exec ${values.exec}`);
console.log(`highest achieved rate ${best.rate} exec/s (${best.lostPct} % lost); 5,000/s target achieved ${at5000.rate} exec/s`);
console.log(JSON.stringify({
  bench: 'sensor',
  lost_pct_at_5000: at5000.lostPct,
  rate_at_5000: at5000.rate,
  drain_s_at_5000: at5000.drainS,
  rss_mb: round(agentRss + sensorRss, 1),
  idle_rss_mb: round(idleAgentMem.rss + idleSensorMem.rss, 1),
  idle_anon_mb: round(idleAgentMem.anon + idleSensorMem.anon, 1),
  idle_file_mb: round(idleAgentMem.file + idleSensorMem.file, 1),
  idle_pss_mb: round(idleAgentMem.pss + idleSensorMem.pss, 1),
  end_rss_mb: round(endAgentMem.rss + endSensorMem.rss, 1),
  end_anon_mb: round(endAgentMem.anon + endSensorMem.anon, 1),
  end_file_mb: round(endAgentMem.file + endSensorMem.file, 1),
  end_pss_mb: round(endAgentMem.pss + endSensorMem.pss, 1),
  agent_rss_mb: round(agentRss, 1),
  agent_idle_rss_mb: round(idleRss, 1),
  agent_file_rss_mb: round(agentFileRss, 1),
  sensor_rss_mb: round(sensorRss, 1),
  cpu_idle_pct: round(idle.agent + idle.sensor),
  cpu_1000_pct: round(at1000events.cpuAgent + at1000events.cpuSensor),
  events_per_s_at_1000: at1000events.eventsPerS,
  cpu_max_pct: round(best.cpuAgent + best.cpuSensor),
  max_rate: best.rate,
  lost_pct_at_max: best.lostPct,
  sensor_drops: sensorDrops,
  storm_exec: values.exec,
  loadavg: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
}));
