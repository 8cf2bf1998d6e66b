// Benchmark of threat-intelligence matching in the pipeline: the real Pipeline (in-process bus) with the real
// detection stage (the built-in rules) and the intel stage, over a generated event mix shaped like the agent's
// (per 10 events: 4 process starts with a SHA-256, 3 outbound connections, 2 DNS answers with a name and an
// address, 1 file write; ~0.1 % of the observables are listed), first with no indicator list and then with a
// list of 1,000,000 indicators (400,000 SHA-256, 300,000 IPv4 addresses and networks, 300,000 domains), rounds
// alternating in the same run, median of each. The pipeline stores into the embedded deployment's event store
// (chdb, a fresh directory, removed after): events_per_s_*; the same rounds with a no-op store give the CPU of the
// stages alone (stages_events_per_s_*), where intel's share is far larger than in the pipeline.
// Rates are events per second of this process's CPU (user + system, every thread: chdb's too), which is what the
// pipeline gets on a machine of its own; wall-clock rates are printed too (wall_*), but on a shared machine they
// mostly measure the other processes.
// Load time: the list's CSV content (as stored) parsed and the matcher built, as each matching process does.
// Last line: {"bench":"intel","events_per_s_0":…,"events_per_s_1m":…,"load_s":…}
// Run with --expose-gc (npm run bench:intel does) so each round starts after a full collection.
// Options: --events N (per round, default 100000), --rounds N (default 3), --indicators N (default 1000000).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { InProcessBus } from '../src/bus/in-process.ts';
import type { Alert } from '../src/detect/alerts.ts';
import { loadCompileOptions, loadRuleSources } from '../src/detect/loader.ts';
import { DetectionStage } from '../src/detect/stage.ts';
import { IntelLists } from '../src/intel/lists.ts';
import { IndicatorMatcher } from '../src/intel/matcher.ts';
import { parseFeed } from '../src/intel/parse.ts';
import { IntelStage } from '../src/intel/stage.ts';
import type { VigilEvent } from '../src/schema/event.ts';
import { BUILTIN_RULES_DIR } from '../src/server/detection.ts';
import { Pipeline } from '../src/server/pipeline.ts';
import { ChdbEngine } from '../src/stores/events/chdb-engine.ts';
import { ClickHouseEventStore } from '../src/stores/events/clickhouse-store.ts';
import type { EventStore } from '../src/stores/events/types.ts';
import { compileSigma } from '../src/sigma/parser.ts';
import { LiveProcessIndex } from '../src/tree/live-index.ts';

const { values: opts } = parseArgs({ options: {
  events: { type: 'string', default: '100000' }, rounds: { type: 'string', default: '3' }, indicators: { type: 'string', default: '1000000' },
} });
const EVENTS = Number(opts.events);
const ROUNDS = Number(opts.rounds);
const INDICATORS = Number(opts.indicators);
const TENANT = 'bench';
const BATCH = 500;

// A deterministic generator (xorshift) so both rounds see the same kind of values.
let seed = 0x9e3779b9;
const rand = (): number => { seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5; return (seed >>> 0) / 0x100000000; };
const hex = (n: number): string => { let s = ''; while (s.length < n) s += Math.floor(rand() * 0x100000000).toString(16).padStart(8, '0'); return s.slice(0, n); };
const ip = (): string => `${1 + Math.floor(rand() * 222)}.${Math.floor(rand() * 256)}.${Math.floor(rand() * 256)}.${Math.floor(rand() * 256)}`;
const domain = (): string => `${hex(8)}.${['example', 'cdn-net', 'updates', 'telemetry'][Math.floor(rand() * 4)]}.${['com', 'net', 'io', 'org'][Math.floor(rand() * 4)]}`;

// The list: its CSV as stored, and a sample of its values to sprinkle into the events.
const listed = { sha256: [] as string[], ipv4: [] as string[], domain: [] as string[] };
function listCsv(): string {
  const lines = ['value,type,confidence'];
  for (let i = 0; i < INDICATORS; i++) {
    const k = i % 10;
    let v: string;
    let t: string;
    if (k < 4) { v = hex(64); t = 'sha256'; if (i % 997 === 0) listed.sha256.push(v); }
    else if (k < 7) { v = k === 6 && i % 50 === 6 ? `${ip().split('.').slice(0, 3).join('.')}.0/24` : ip(); t = 'ipv4'; if (i % 997 === 4 && !v.includes('/')) listed.ipv4.push(v); }
    else { v = domain(); t = 'domain'; if (i % 997 === 7) listed.domain.push(v); }
    lines.push(`${v},${t},${60 + (i % 40)}`);
  }
  return lines.join('\n');
}

const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)];
const hit = (): boolean => rand() < 0.001;

function events(n: number): VigilEvent[] {
  const out: VigilEvent[] = [];
  const t = Date.now();
  for (let i = 0; i < n; i++) {
    const k = i % 10;
    const base = {
      '@timestamp': new Date(t + i).toISOString(), agent: { id: `host-${i % 50}`, tenant_id: TENANT },
      process: { pid: 1000 + (i % 5000), entity_id: `e${i % 5000}`, executable: pick(['/usr/bin/curl', '/bin/bash', '/usr/bin/python3', '/usr/bin/tar']), command_line: 'x --y z' },
      user: { id: '1000', name: 'alice' },
    };
    if (k < 4) out.push({ ...base, event: { id: `ev${i}`, type: 'process_start', category: 'process' }, process: { ...base.process, hash: { sha256: hit() && listed.sha256.length ? pick(listed.sha256) : hex(64) } } } as VigilEvent);
    else if (k < 7) out.push({ ...base, event: { id: `ev${i}`, type: 'network_connection', category: 'network' }, source: { ip: '10.0.0.5', port: 40000 + (i % 20000) }, destination: { ip: hit() && listed.ipv4.length ? pick(listed.ipv4) : ip(), port: 443 }, network: { transport: 'tcp', type: 'ipv4', direction: 'outbound' } } as VigilEvent);
    else if (k < 9) {
      const name = hit() && listed.domain.length ? `www.${pick(listed.domain)}` : domain();
      const a = ip();
      out.push({ ...base, event: { id: `ev${i}`, type: 'network_send', category: 'network' }, destination: { ip: '127.0.0.53', port: 53 }, dns: { question: { name, type: 'A' }, resolved_ip: [a], answers: [{ name, type: 'A', data: a }] } } as unknown as VigilEvent);
    } else out.push({ ...base, event: { id: `ev${i}`, type: 'file_write', category: 'file' }, file: { path: `/tmp/f${i % 100}` } } as VigilEvent);
  }
  return out;
}

const nullStore = { insert: async () => {} } as unknown as EventStore;
let alerts = 0;
const sink = { write: async (a: Alert[]) => { alerts += a.length; } };

interface Rate { cpu: number; wall: number }

async function round(lists: IntelLists, batches: VigilEvent[][], store: EventStore): Promise<Rate> {
  (globalThis as { gc?: () => void }).gc?.();
  const bus = new InProcessBus<VigilEvent[]>();
  const processes = new LiveProcessIndex();
  const detection = new DetectionStage(compiled, sink, processes);
  const intel = new IntelStage({ lists, sink, processes });
  // As assembled: the detection stage tags events with their rules' techniques before they are stored.
  const stages = [{ name: detection.name, beforeStore: async (e: VigilEvent[]) => detection.tag(e), process: (e: VigilEvent[]) => detection.process(e) }, intel];
  const pipeline = new Pipeline({ bus, store, stages, log: pino({ level: 'silent' }), maxBatchMessages: 4 });
  pipeline.start();
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  let inFlight: Promise<void>[] = [];
  for (const [i, b] of batches.entries()) {
    inFlight.push(bus.publish({ subject: `events.${TENANT}.h`, id: `m${i}`, payload: b }));
    if (inFlight.length >= 16) { await Promise.all(inFlight); inFlight = []; }
  }
  await Promise.all(inFlight);
  const cpu = process.cpuUsage(cpuStart);
  const seconds = (performance.now() - start) / 1000;
  await pipeline.stop();
  await bus.close();
  const events = batches.reduce((n, b) => n + b.length, 0);
  return { cpu: events / ((cpu.user + cpu.system) / 1e6), wall: events / seconds };
}

const compiled = compileSigma(loadRuleSources([BUILTIN_RULES_DIR]), loadCompileOptions({}));
console.log(`rules: ${compiled.rules.length} built-in`);
const csv = listCsv();
const loadStart = performance.now();
const parsed = parseFeed('csv', csv);
const matcher = new IndicatorMatcher(parsed.indicators);
const loadSeconds = (performance.now() - loadStart) / 1000;
parsed.indicators.length = 0;
console.log(`list: ${matcher.size} indicators (${(csv.length / 1e6).toFixed(1)} MB of CSV) loaded in ${loadSeconds.toFixed(2)} s; heap ${(process.memoryUsage().heapUsed / 1e6).toFixed(0)} MB`);
const empty = new IntelLists();
const full = new IntelLists();
full.put({ id: 'bench', tenantId: TENANT, name: 'bench 1M', source: 'upload', version: 1, matcher });

const all = events(EVENTS);
const batches: VigilEvent[][] = [];
for (let i = 0; i < all.length; i += BATCH) batches.push(all.slice(i, i + BATCH));
const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-intel-'));
const chdb = new ClickHouseEventStore(new ChdbEngine(join(dir, 'events')), { retentionDays: 30 });
await chdb.init();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Rounds alternating without and with the list, on `store`; the medians. */
async function compare(what: string, store: EventStore): Promise<{ e0: number; e1: number; w0: number; w1: number }> {
  await round(empty, batches.slice(0, 20), store); // warm-up
  const r0: Rate[] = [];
  const r1: Rate[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    // Alternating which goes first (ABBA), each after a full collection: neither pays for the other's garbage.
    const before = alerts;
    if (r % 2 === 0) {
      r0.push(await round(empty, batches, store));
      r1.push(await round(full, batches, store));
    } else {
      r1.push(await round(full, batches, store));
      r0.push(await round(empty, batches, store));
    }
    console.log(`${what} round ${r + 1}: ${Math.round(r0[r].cpu)} events per CPU second without, ${Math.round(r1[r].cpu)} with ${matcher.size} indicators`
      + ` (wall: ${Math.round(r0[r].wall)} / ${Math.round(r1[r].wall)} events/s; ${alerts - before} alerts, detection's included)`);
  }
  const m = { e0: median(r0.map((r) => r.cpu)), e1: median(r1.map((r) => r.cpu)), w0: median(r0.map((r) => r.wall)), w1: median(r1.map((r) => r.wall)) };
  console.log(`${what}: drop ${((1 - m.e1 / m.e0) * 100).toFixed(1)} % (per CPU second), ${((1 - m.w1 / m.w0) * 100).toFixed(1)} % (wall)`);
  return m;
}

try {
  const pipeline = await compare('pipeline (chdb store)', chdb);
  const stages = await compare('stages only (no-op store)', nullStore);
  console.log(JSON.stringify({
    bench: 'intel', events_per_s_0: Math.round(pipeline.e0), events_per_s_1m: Math.round(pipeline.e1), load_s: Number(loadSeconds.toFixed(2)),
    drop_pct: Number(((1 - pipeline.e1 / pipeline.e0) * 100).toFixed(1)), stages_events_per_s_0: Math.round(stages.e0), stages_events_per_s_1m: Math.round(stages.e1),
    stages_drop_pct: Number(((1 - stages.e1 / stages.e0) * 100).toFixed(1)), wall_events_per_s_0: Math.round(pipeline.w0), wall_events_per_s_1m: Math.round(pipeline.w1),
    indicators: matcher.size, events: EVENTS, rounds: ROUNDS,
  }));
} finally {
  await chdb.close();
  rmSync(dir, { recursive: true, force: true });
}
