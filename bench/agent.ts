// Agent benchmark: the agent's own CPU per event, without an exec storm beside it. The real eBPF sensor
// first records a few seconds of a 333 exec/s storm (its framed records, as it writes them to the agent);
// then an agent process (the production Agent class, the agent's V8 flags and malloc settings, the real
// frame decoder, process cache, batching, spool and mutual-TLS gRPC to a stub endpoint that acknowledges)
// is fed those records again at fixed rates, re-timed to the present. bench:sensor measures the agent in
// a storm, which on a 2-core VM also measures the storm (hundreds of forks a second beside it); this
// isolates the agent's steady cost, after a warm-up. Needs root, BTF and `make -C sensor` to record.
// Memory is bench:sensor's to measure: this agent runs its TypeScript without the compile cache.
// Each rate is measured with executable hashing on (the agent's default, src/agent/enrichment/hashing.ts); then
// 1,000 events/s (`--hash-off-rate`, 0: not measured) with it off and on again, `--hash-pairs` times (default 1),
// so that on and off alternate on this noisy shared machine; the figures are the means of each. The
// recorded storm execs one binary, so after its first hash the agent's cost is the steady one of a host whose
// binaries are hashed (cache lookups, digests on every process_start), not the hashing of new files (bounded by
// its byte budget: docs/sensor.md). That cost is measured apart: the hasher reads a 32 MiB file of random bytes
// with no budget, and the CPU it took per MiB (read and three digests) gives `hash_cpu_ms_per_mib`, and with the
// default budget (8 MiB/s) the most a core hashing can take, `hash_budget_cpu_pct`.
// Last line: {"bench":"agent","cpu_1000_pct":…,"us_per_event_1000":…,"cpu_3000_pct":…,"us_per_event_3000":…,
//   "cpu_pct_hash_on":…,"cpu_pct_hash_off":…,"us_per_event_hash_on":…,"us_per_event_hash_off":…,"hash_runs":[…],
//   "hash_cpu_ms_per_mib":…,"hash_budget_cpu_pct":…}
// `--storm` measures instead, in one process and without the sensor, what the process cache keeps after
// 55,000 short-lived processes (bytes each) and the event path's CPU per event (support/process-storm.ts):
// {"bench":"agent-storm","cached":…,"bytes_per_cached_process":…,"us_per_event":…}
//
// `--cpu-prof DIR` also profiles the agent over each measured window: DIR/agent-<rate>.cpuprofile, and the
// functions with the most self time printed.
//
// Usage: npm run bench:agent [-- --warmup-seconds 30 --seconds 20 --rates 1000,3000 --hash-off-rate 1000 --hash-pairs 1 --cpu-prof DIR | --storm]

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { Agent } from '../src/agent/agent.ts';
import { DEFAULT_HASHING, ExecutableHasher, type HashResult } from '../src/agent/enrichment/hashing.ts';
import type { Observation, Sensor } from '../src/agent/sensor.ts';
import { FRAME, FrameDecoder, type Frame } from '../src/agent/sensors/ebpf/frames.ts';
import { CLK_TCK as PROC_CLK_TCK, procStartTimeMs, ProcReader } from '../src/agent/sensors/proc/index.ts';
import { DEFAULT_SENSOR_BINARY, detectEnvironment, ebpfUnavailableReason } from '../src/agent/sensors/select.ts';
import { AGENT_NODE_FLAGS, MALLOC_TUNABLES } from '../src/cli/commands/agent.ts';
import { CLK_TCK, cpuTicks } from './support/proc-stats.ts';
import { processStorm, type StormResult } from './support/process-storm.ts';
import { serveCpuProfile, startCpuProfile, stopCpuProfile } from './support/cpu-profile.ts';
import { benchAgentDirs, startStubIngest } from './support/stub-ingest.ts';

const TICK_MS = 200; // the replay feeds records every 200 ms, as the sensor flushes its ring buffer (--flush-ms)
const PID_LIMIT = 4_194_304; // Linux's highest pid_max
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;

/**
 * A sensor that replays recorded frames at `rate` observations a second, looping, re-timed to now. Like the
 * eBPF sensor's pipe, it hands the decoder one chunk of whole frames per flush of the ring buffer (every
 * 200 ms), and the observations go to the agent as the decoder makes them. Each pass's processes are new
 * ones, as in a storm: their pids are moved beyond those of the previous passes (Linux pids stay below
 * PID_LIMIT) and their start times by how much later the pass began than the recording (the same for all its
 * records). Before, every pass replaced the previous pass's processes in the agent's process cache (the
 * same pids) or updated them (the same start times), so that it never held more than one pass's processes,
 * where a storm leaves 30 s of them.
 */
function replaySensor(frames: Buffer, rate: number): Sensor {
  const btimeS = new ProcReader().bootInfo().btimeS;
  const decoder = new FrameDecoder((bootNs) => procStartTimeMs(Math.floor(bootNs / (1e9 / PROC_CLK_TCK)), btimeS));
  const perTick = (rate * TICK_MS) / 1000;
  let timer: NodeJS.Timeout | undefined;
  let offset = 0;
  let pass = 0;
  let startShiftMs: number | undefined; // for this pass: set by its first record
  return {
    mode: 'ebpf',
    async start(emit: (o: Observation) => void) {
      timer = setInterval(() => {
        const now = Date.now();
        const onFrame = (f: Frame) => {
          if (f.kind !== 'observation') return;
          const o = f.observation; // a new object each time: re-timed in place
          startShiftMs ??= now - o.timeMs;
          if (o.startTimeMs !== undefined) o.startTimeMs += startShiftMs;
          o.timeMs = now;
          const pidShift = (pass % 500) * PID_LIMIT; // below 2^31
          if (o.pid > 0) o.pid += pidShift;
          if (o.tid) o.tid += pidShift;
          if (o.ppid) o.ppid += pidShift;
          emit(o);
        };
        for (let n = 0; n < perTick; ) {
          if (offset >= frames.length) {
            offset = 0;
            pass++;
            startShiftMs = undefined;
            decoder.reset();
          }
          let end = offset;
          for (; end < frames.length && n < perTick; end += frames.readUInt32LE(end + 4)) { // whole frames: a header says its length
            if (frames[end + 9] < FRAME.stats) n++; // a kernel record (the sensor's own stats and hello frames are not)
          }
          decoder.push(frames.subarray(offset, end), onFrame);
          offset = end;
        }
      }, TICK_MS);
    },
    async stop() { clearInterval(timer); },
    health: () => ({ mode: 'ebpf', drops: 0, restarts: 0 }),
  };
}

/** The child process: one agent fed by the replay sensor. */
async function runAgent([agentDir, server, caFile, framesFile, rate, hashing]: string[]): Promise<void> {
  if (process.send) serveCpuProfile();
  const agent = new Agent({
    dataDir: agentDir, server, caPem: readFileSync(caFile, 'utf8'), log: pino({ level: 'warn' }),
    sensor: replaySensor(readFileSync(framesFile), Number(rate)), hashing: { enabled: hashing === 'on' },
  });
  await agent.start();
}

/** The sensor's output during a storm of `seconds` at 333 exec/s (fork, exec and exit records). */
async function record(seconds: number): Promise<Buffer> {
  const sensor = spawn(DEFAULT_SENSOR_BINARY, [], { stdio: ['ignore', 'pipe', 'inherit'] });
  const chunks: Buffer[] = [];
  sensor.stdout.on('data', (c: Buffer) => chunks.push(c));
  await sleep(2000); // attached
  const trigger = spawn(join(DEFAULT_SENSOR_BINARY, '..', 'vigil-trigger'), ['storm', '333', String(seconds), 'vigil-bench-agent'], { stdio: 'ignore' });
  await new Promise((resolve) => trigger.once('exit', resolve));
  await sleep(500);
  sensor.kill('SIGTERM');
  await new Promise((resolve) => sensor.once('exit', resolve));
  return Buffer.concat(chunks);
}

/** CPU milliseconds per MiB the hasher spends on a file it has not seen (no budget: as fast as it goes). */
async function hashCost(dir: string): Promise<number> {
  const path = join(dir, 'hash-me.bin');
  const mib = 32;
  writeFileSync(path, randomBytes(mib * 1024 * 1024));
  const st = statSync(path, { bigint: true });
  const hasher = new ExecutableHasher({ enabled: true, bytesPerSecond: 1024 ** 4, maxFileBytes: 1024 ** 3 });
  const cpu0 = process.cpuUsage();
  const r = await new Promise<HashResult>((resolve) => hasher.request({ path, pid: 0, file: { device: Number(st.dev), inode: Number(st.ino), size: Number(st.size), mtimeNs: st.mtimeNs } }, resolve));
  const cpu = process.cpuUsage(cpu0);
  if (r.outcome !== 'hashed') throw new Error(`bench:agent: the test file was not hashed (${r.outcome})`);
  return (cpu.user + cpu.system) / 1000 / mib;
}

interface RateResult { rate: number; hashing: boolean; eventsPerS: number; cpuPct: number; usPerEvent: number }

async function measure(rate: number, hashing: boolean, framesFile: string, warmupS: number, seconds: number, profileDir?: string): Promise<RateResult> {
  const dirs = await benchAgentDirs('vigil-bench-agent-');
  let events = 0;
  const ingest = await startStubIngest(dirs.serverCredentials, (m) => { events += m.batch?.events.length ?? 0; });
  const child = spawn(process.execPath, [...AGENT_NODE_FLAGS, fileURLToPath(import.meta.url), 'agent', dirs.agentDir, `127.0.0.1:${ingest.port}`, dirs.caFile, framesFile, String(rate), hashing ? 'on' : 'off'],
    { stdio: ['inherit', 'inherit', 'inherit', ...(profileDir ? ['ipc' as const] : [])], env: { GLIBC_TUNABLES: MALLOC_TUNABLES, ...process.env } });
  await sleep(warmupS * 1000);
  const ticks = () => { const t = cpuTicks(child.pid!); return t.user + t.sys; };
  if (profileDir) startCpuProfile(child);
  const [t0, e0, w0] = [ticks(), events, performance.now()];
  await sleep(seconds * 1000);
  const wallS = (performance.now() - w0) / 1000;
  const cpuPct = ((ticks() - t0) / CLK_TCK / wallS) * 100;
  const eventsPerS = (events - e0) / wallS;
  if (profileDir) console.log(`agent self time at ${rate} events/s (profile ${join(profileDir, `agent-${rate}.cpuprofile`)}):\n${await stopCpuProfile(child, join(profileDir, `agent-${rate}.cpuprofile`))}`);
  const result = { rate, hashing, eventsPerS: Math.round(eventsPerS), cpuPct: round(cpuPct), usPerEvent: round((cpuPct * 1e4) / eventsPerS, 1) };
  child.kill('SIGKILL');
  ingest.close();
  rmSync(dirs.workDir, { recursive: true, force: true });
  console.log(`${rate} events/s asked, hashing ${hashing ? 'on' : 'off'}: ${result.eventsPerS} acknowledged/s, agent CPU ${result.cpuPct} % of a core, ${result.usPerEvent} µs per event`);
  return result;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: {
    'warmup-seconds': { type: 'string', default: '30' }, seconds: { type: 'string', default: '20' }, rates: { type: 'string', default: '1000,3000' },
    'cpu-prof': { type: 'string' }, 'hash-off-rate': { type: 'string', default: '1000' }, 'hash-pairs': { type: 'string', default: '1' },
  } });
  const unavailable = ebpfUnavailableReason(detectEnvironment(DEFAULT_SENSOR_BINARY), DEFAULT_SENSOR_BINARY);
  if (unavailable) {
    console.error(`bench:agent: ${unavailable} (needed to record the sensor's records)`);
    process.exit(2);
  }
  const dirs = await benchAgentDirs('vigil-bench-frames-');
  const framesFile = join(dirs.workDir, 'frames.bin');
  const frames = await record(5);
  writeFileSync(framesFile, frames);
  console.log(`recorded ${frames.length} bytes of sensor records`);
  const results: RateResult[] = [];
  const hashMs = await hashCost(dirs.workDir);
  console.log(`hashing a file not seen before: ${round(hashMs)} ms of CPU per MiB (SHA-256, SHA-1 and MD5, and the reads)`);
  const offRate = Number(values['hash-off-rate']);
  const pairs = offRate ? Array.from({ length: Number(values['hash-pairs']) }, (): [number, boolean][] => [[offRate, false], [offRate, true]]).flat() : [];
  const runs: [number, boolean][] = [...values.rates.split(',').map((r): [number, boolean] => [Number(r), true]), ...pairs];
  for (const [rate, hashing] of runs) results.push(await measure(rate, hashing, framesFile, Number(values['warmup-seconds']), Number(values.seconds), values['cpu-prof']));
  rmSync(dirs.workDir, { recursive: true, force: true });
  const at = (rate: number, hashing = true) => results.find((r) => r.rate === rate && r.hashing === hashing);
  const ofHashing = (hashing: boolean) => results.filter((r) => r.rate === offRate && r.hashing === hashing);
  const mean = (rs: RateResult[], f: (r: RateResult) => number) => (rs.length ? round(rs.reduce((a, r) => a + f(r), 0) / rs.length) : undefined);
  console.log(JSON.stringify({
    bench: 'agent', cpu_1000_pct: at(1000)?.cpuPct, us_per_event_1000: at(1000)?.usPerEvent,
    cpu_3000_pct: at(3000)?.cpuPct, us_per_event_3000: at(3000)?.usPerEvent,
    cpu_pct_hash_on: mean(ofHashing(true), (r) => r.cpuPct), cpu_pct_hash_off: mean(ofHashing(false), (r) => r.cpuPct),
    us_per_event_hash_on: mean(ofHashing(true), (r) => r.usPerEvent), us_per_event_hash_off: mean(ofHashing(false), (r) => r.usPerEvent),
    hash_runs: results.filter((r) => r.rate === offRate).map((r) => `${r.hashing ? 'on' : 'off'} ${r.cpuPct}`),
    hash_cpu_ms_per_mib: round(hashMs), hash_budget_cpu_pct: round((hashMs * DEFAULT_HASHING.bytesPerSecond) / (1024 * 1024) / 10),
  }));
}

/** `--storm`: the event path and process cache in one process (support/process-storm.ts), under the agent's V8 flags. */
async function storm(): Promise<void> {
  const child = spawn(process.execPath, [...AGENT_NODE_FLAGS, '--expose-gc', fileURLToPath(import.meta.url), 'storm'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  await new Promise((resolve) => child.once('close', resolve));
  const r = JSON.parse(out) as StormResult;
  console.log(`in-process storm: ${r.cached} processes cached after ${r.processes}, ${r.bytesPerCachedProcess} bytes each; ${r.usPerEvent} µs per event`);
  console.log(JSON.stringify({ bench: 'agent-storm', cached: r.cached, bytes_per_cached_process: r.bytesPerCachedProcess, us_per_event: r.usPerEvent }));
}

if (process.argv[2] === 'agent') await runAgent(process.argv.slice(3));
else if (process.argv[2] === 'storm') console.log(JSON.stringify(processStorm(55_000, 300_000)));
else if (process.argv.includes('--storm')) await storm();
else await main();
