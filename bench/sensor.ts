// Sensor benchmark: the real eBPF sensor feeding the agent's event pipeline (decode → process cache
// enrichment → schema event → wire batch of 100; no spool or network) in this process, under exec
// storms at rising rates made by vigil-trigger processes. Per step: execs started vs captured (% lost),
// kernel drops, CPU % of one core of the sensor and of the agent, and their RSS. Needs root, BTF and
// `make -C sensor`.
// Last line: {"bench":"sensor","lost_pct_at_5000":…,"rss_mb":…,"cpu_idle_pct":…,"cpu_1000_pct":…,"max_rate":…}
//
// Usage: npm run bench:sensor [-- --idle-seconds 10 --step-seconds 3 --spawners 4]

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildEvent, createBuildContext } from '../src/agent/events.ts';
import { ProcessCache } from '../src/agent/process-cache.ts';
import type { Observation } from '../src/agent/sensor.ts';
import { EbpfSensor } from '../src/agent/sensors/ebpf/index.ts';
import { DEFAULT_SENSOR_BINARY, detectEnvironment, ebpfUnavailableReason, seedFromProc } from '../src/agent/sensors/select.ts';
import { encodeEventsPayload, toWireEvent } from '../src/schema/wire.ts';

const { values } = parseArgs({ options: {
  'idle-seconds': { type: 'string', default: '10' }, 'step-seconds': { type: 'string', default: '3' },
  spawners: { type: 'string', default: '4' },
} });
const idleSeconds = Number(values['idle-seconds']);
const stepSeconds = Number(values['step-seconds']);
const spawners = Number(values.spawners);
const TRIGGER = join(DEFAULT_SENSOR_BINARY, '..', 'vigil-trigger');
const CLK_TCK = 100;
const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;

const unavailable = ebpfUnavailableReason(detectEnvironment(DEFAULT_SENSOR_BINARY), DEFAULT_SENSOR_BINARY);
if (unavailable) {
  console.error(`bench:sensor: ${unavailable}`);
  process.exit(2);
}

// ---- the agent pipeline under test ----
const cache = new ProcessCache('bench-host');
seedFromProc(cache);
const ctx = createBuildContext({ hostId: 'bench-host', agent: { id: 'bench', hostname: 'bench', tenantId: 't', version: '0' }, cache });
let batch: Record<string, unknown>[] = [];
let events = 0;
let marker = '';
let captured = 0;

function onObservation(o: Observation): void {
  batch.push(toWireEvent(buildEvent(o, ctx)));
  events++;
  if (batch.length >= 100) {
    encodeEventsPayload(batch);
    batch = [];
  }
  if (marker && o.type === 'process_start' && o.args?.[1]?.startsWith(marker)) captured++;
}

const sensor = new EbpfSensor({ binary: DEFAULT_SENSOR_BINARY });
await sensor.start(onObservation);
const sensorPid = sensor.counters().sensorPid!;

// ---- measurement ----
interface Usage { at: number; agentUs: number; sensorTicks: number }

function sensorTicks(): number {
  const stat = readFileSync(`/proc/${sensorPid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]); // utime, stime (fields 14, 15)
}

function usage(): Usage {
  const u = process.cpuUsage();
  return { at: performance.now(), agentUs: u.user + u.system, sensorTicks: sensorTicks() };
}

function cpuPct(a: Usage, b: Usage): { agent: number; sensor: number } {
  const wallMs = b.at - a.at;
  return {
    agent: ((b.agentUs - a.agentUs) / 1000 / wallMs) * 100,
    sensor: (((b.sensorTicks - a.sensorTicks) * 1000) / CLK_TCK / wallMs) * 100,
  };
}

function sensorRssMb(field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${sensorPid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

let agentPeakRss = 0;
const rssSampler = setInterval(() => (agentPeakRss = Math.max(agentPeakRss, process.memoryUsage.rss())), 200);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `parallel` vigil-trigger storms sharing `rate`; resolves with the execs they started. */
async function storm(rate: number, parallel: number, tag: string): Promise<{ started: number; seconds: number }> {
  const runs = Array.from({ length: parallel }, (_, i) => new Promise<{ started: number; seconds: number }>((resolve, reject) => {
    const child = spawn(TRIGGER, ['storm', String(rate / parallel), String(stepSeconds), `${tag}-${i}`], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`vigil-trigger exited ${code}`))));
  }));
  const results = await Promise.all(runs);
  return { started: results.reduce((n, r) => n + r.started, 0), seconds: Math.max(...results.map((r) => r.seconds)) };
}

interface Step { target: number; rate: number; started: number; captured: number; lostPct: number; kernelDrops: number; cpuAgent: number; cpuSensor: number; eventsPerS: number }

async function step(target: number, parallel: number): Promise<Step> {
  marker = `vigil-bench-${target}-${Date.now()}`;
  captured = 0;
  const drops0 = sensor.counters().kernelDrops;
  const events0 = events;
  const u0 = usage();
  const s = await storm(target, parallel, marker);
  const u1 = usage();
  const eventsPerS = (events - events0) / ((u1.at - u0.at) / 1000);
  for (let waited = 0; captured < s.started && waited < 5000; waited += 100) await sleep(100); // drain
  const cpu = cpuPct(u0, u1);
  const result = {
    target, rate: Math.round(s.started / s.seconds), started: s.started, captured,
    lostPct: round(((s.started - captured) / s.started) * 100, 3),
    kernelDrops: sensor.counters().kernelDrops - drops0, cpuAgent: round(cpu.agent), cpuSensor: round(cpu.sensor),
    eventsPerS: Math.round(eventsPerS),
  };
  console.log(`storm target ${target}/s: ${result.rate} exec/s achieved, ${captured}/${s.started} captured (${result.lostPct} % lost), ` +
    `kernel drops ${result.kernelDrops}, ${result.eventsPerS} events/s; CPU agent ${result.cpuAgent} %, sensor ${result.cpuSensor} %`);
  return result;
}

await sleep(1000);
const i0 = usage();
const eventsIdle0 = events;
await sleep(idleSeconds * 1000);
const idle = cpuPct(i0, usage());
console.log(`idle ${idleSeconds} s: CPU agent ${round(idle.agent)} %, sensor ${round(idle.sensor)} % ` +
  `(${round((events - eventsIdle0) / idleSeconds)} events/s from the rest of this host)`);

const steps: Step[] = [];
steps.push(await step(333, 1)); // ≈1,000 events/s: fork + exec + exit per process
for (const target of [1000, 2000, 5000, 10_000]) steps.push(await step(target, spawners));
clearInterval(rssSampler);

const agentRss = agentPeakRss / 2 ** 20;
const sensorRss = sensorRssMb('VmHWM');
const health = sensor.health();
await sensor.stop();
console.log(`RSS peak: agent ${round(agentRss, 1)} MB (heap used ${round(process.memoryUsage().heapUsed / 2 ** 20, 1)} MB, ` +
  `process cache ${cache.size} entries), sensor ${round(sensorRss, 1)} MB; sensor drops ${health.drops}, restarts ${health.restarts}`);

const at5000 = steps.find((s) => s.target === 5000)!;
const at1000events = steps[0];
const best = steps.reduce((a, b) => (b.rate > a.rate ? b : a));
console.log(`highest achieved rate ${best.rate} exec/s (${best.lostPct} % lost); 5,000/s target achieved ${at5000.rate} exec/s`);
console.log(JSON.stringify({
  bench: 'sensor',
  lost_pct_at_5000: at5000.lostPct,
  rate_at_5000: at5000.rate,
  rss_mb: round(agentRss + sensorRss, 1),
  agent_rss_mb: round(agentRss, 1),
  sensor_rss_mb: round(sensorRss, 1),
  cpu_idle_pct: round(idle.agent + idle.sensor),
  cpu_1000_pct: round(at1000events.cpuAgent + at1000events.cpuSensor),
  events_per_s_at_1000: at1000events.eventsPerS,
  cpu_max_pct: round(best.cpuAgent + best.cpuSensor),
  max_rate: best.rate,
  lost_pct_at_max: best.lostPct,
  kernel_drops: steps.reduce((n, s) => n + s.kernelDrops, 0),
}));
