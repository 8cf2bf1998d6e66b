// bench:soak — the embedded server's memory over time: a `vigil up --no-agent` process with SigmaHQ's Linux rules
// loaded (--rules, default /work/shared/sigma/rules/linux) takes a steady event rate (default 1,000 events/s) from
// simulated agents (src/agent/simulator.ts: process starts and their exits, 100-event batches at a fixed pace) for
// --minutes (default 3; 30 for the issue's figure), while an analyst's reads run every few seconds: a host timeline
// page, the alert list grouped by rule, a command-line search. Every 5 s the server's memory is sampled from
// /proc/<pid>/smaps_rollup (RSS split into anonymous and file-backed, PSS).
// Reported: RSS steady (the mean of the second half's samples) and peak (the highest sample and VmHWM), their
// anonymous/file split, the reads' p95, what was stored and the bus backlog at the end.
// Goals (issue 20): RSS ≤ 400 MB steady, ≤ 600 MB peak over 30 minutes.
// Last line: {"bench":"soak","minutes":…,"rss_steady_mb":…,"rss_peak_mb":…,"anon_steady_mb":…,"file_steady_mb":…,…}
//   npm run bench:soak -- [--minutes 3] [--rate 1000] [--agents 10] [--rules DIR]
// Env: VIGIL_EVENT_ENGINE_SETTINGS and VIGIL_CHILD_NODE_ARGS reach the server (engine settings, V8 flags);
// VIGIL_BENCH_SERVER_LOG=FILE: the server's output is written to FILE at the end.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SimulatedAgent } from '../src/agent/simulator.ts';
import type { VigilEvent } from '../src/schema/event.ts';
import { startVigil, type VigilProcess } from '../test/support/vigil-process.ts';
import { memorySplit, rssMb, type MemorySplit } from './support/proc-stats.ts';

const { values } = parseArgs({ options: {
  minutes: { type: 'string', default: '3' }, rate: { type: 'string', default: '1000' }, agents: { type: 'string', default: '10' },
  rules: { type: 'string', default: '/work/shared/sigma/rules/linux' },
} });
const MINUTES = Number(values.minutes);
const RATE = Number(values.rate);
const AGENTS = Number(values.agents);
const BATCH = 100;
const SAMPLE_MS = 5000;
const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? 0;

async function enrolAgents(server: VigilProcess, caPem: string): Promise<SimulatedAgent[]> {
  const res = await fetch(`${server.apiUrl}/api/v1/enrollment-tokens`, {
    method: 'POST', headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ max_uses: AGENTS }),
  });
  const { token } = await res.json() as { token: string };
  const agents = await Promise.all(Array.from({ length: AGENTS }, (_, i) => SimulatedAgent.enroll(server.grpcAddress, caPem, token, `soak-${i}`)));
  for (const a of agents) a.connect();
  return agents;
}

async function metric(server: VigilProcess, name: string): Promise<number> {
  const text = await (await fetch(`${server.apiUrl}/metrics`, { headers: { authorization: `Bearer ${server.metricsToken}` } })).text();
  return Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, 'm').exec(text)?.[1] ?? NaN);
}

/** Sends RATE events/s until `until`: 100-event batches, starts and (one batch later) the same processes' exits. */
async function load(agents: SimulatedAgent[], until: number): Promise<{ sent: number; acked: number; late: number }> {
  const intervalMs = (1000 * BATCH) / RATE;
  const started = new Map<SimulatedAgent, VigilEvent[]>();
  const pending: Promise<void>[] = [];
  let sent = 0, acked = 0, late = 0;
  const t0 = performance.now();
  for (let i = 0; performance.now() < until; i++) {
    const wait = t0 + i * intervalMs - performance.now();
    if (wait > 1) await sleep(wait);
    else if (wait < -100) late++;
    const a = agents[i % agents.length];
    const starts = started.get(a);
    const events = starts ? a.syntheticExits(starts) : a.syntheticEvents(BATCH);
    if (starts) started.delete(a);
    else started.set(a, events);
    sent += events.length;
    pending.push(a.send(events).then((ack) => { acked += ack.accepted; }, () => {}));
    if (pending.length > 1000) await Promise.all(pending.splice(0, 500));
  }
  await Promise.all(pending);
  return { sent, acked, late };
}

/** An analyst's reads every few seconds until `until`: latency per read kind. */
async function reads(server: VigilProcess, hosts: string[], until: number): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = { timeline: [], alerts_by_rule: [], cmdline_search: [] };
  const paths: Record<string, () => string> = {
    timeline: () => `/events?host=${hosts[Math.floor(Math.random() * hosts.length)]}&limit=100`,
    alerts_by_rule: () => '/alerts?group_by=rule&limit=50',
    cmdline_search: () => `/events?q=${encodeURIComponent(`task-${Math.floor(Math.random() * 100_000)}`)}&from=${new Date(Date.now() - 86_400_000).toISOString()}&limit=100`,
  };
  while (performance.now() < until) {
    for (const [name, path] of Object.entries(paths)) {
      const t0 = performance.now();
      const res = await fetch(`${server.apiUrl}/api/v1${path()}`, { headers: { authorization: `Bearer ${server.apiKey}` } });
      await res.text();
      if (res.status === 200) out[name].push(performance.now() - t0);
    }
    await sleep(3000);
  }
  return out;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-soak-'));
  const server = await startVigil(['up', '--no-agent', '--data-dir', dir, '--http', '127.0.0.1:0', '--grpc', '127.0.0.1:0', '--rules', values.rules,
    '--rate-limit-user', '100000000', '--rate-limit-tenant', '100000000'], dir, 300_000);
  const pid = server.child.pid!;
  try {
    const startMem = memorySplit(pid);
    console.log(`started with ${values.rules}: RSS ${startMem.rss} MB (anonymous ${startMem.anon}, file-backed ${startMem.file}); load ${loadavg()}`);
    const agents = await enrolAgents(server, readFileSync(join(dir, 'pki', 'ca.pem'), 'utf8'));
    const t0 = performance.now();
    const until = t0 + MINUTES * 60_000;
    const samples: { at: number; mem: MemorySplit }[] = [];
    const sampler = setInterval(() => {
      const mem = memorySplit(pid);
      samples.push({ at: performance.now() - t0, mem });
      if (samples.length % 12 === 0) console.log(`${round(samples.at(-1)!.at / 60_000)} min: RSS ${mem.rss} MB (anonymous ${mem.anon}, file-backed ${mem.file}), PSS ${mem.pss} MB; load ${loadavg()}`);
    }, SAMPLE_MS);
    const [sent, latencies] = await Promise.all([load(agents, until), reads(server, agents.map((a) => a.identity.agentId), until)]);
    clearInterval(sampler);
    const backlog = await metric(server, 'vigil_bus_backlog_messages');
    const peakHwm = rssMb(pid, 'VmHWM');
    for (const a of agents) a.close();
    const second = samples.filter((s) => s.at >= (MINUTES * 60_000) / 2).map((s) => s.mem);
    const mean = (f: (m: MemorySplit) => number) => round(second.reduce((a, m) => a + f(m), 0) / Math.max(1, second.length));
    const peak = samples.reduce((a, s) => (s.mem.rss > a.rss ? s.mem : a), startMem);
    const p95 = Object.fromEntries(Object.entries(latencies).map(([k, xs]) => [`${k}_p95_ms`, round(percentile(xs, 0.95))]));
    console.log(`sent ${sent.sent} events, acknowledged ${sent.acked} (${sent.late} batches sent late by the generator); bus backlog at the end ${backlog} messages`);
    console.log(`reads: ${Object.entries(latencies).map(([k, xs]) => `${k} p50 ${round(percentile(xs, 0.5))} ms p95 ${round(percentile(xs, 0.95))} ms (${xs.length})`).join('; ')}`);
    console.log(JSON.stringify({
      bench: 'soak', minutes: MINUTES, rate: RATE, rules: values.rules, events_acked: sent.acked, bus_backlog_end: backlog,
      rss_start_mb: startMem.rss, rss_steady_mb: mean((m) => m.rss), anon_steady_mb: mean((m) => m.anon), file_steady_mb: mean((m) => m.file), pss_steady_mb: mean((m) => m.pss),
      rss_peak_mb: peak.rss, anon_peak_mb: peak.anon, file_peak_mb: peak.file, rss_hwm_mb: round(peakHwm),
      ...p95, loadavg: loadavg(),
    }));
  } finally {
    await server.stop('SIGTERM');
    if (process.env.VIGIL_BENCH_SERVER_LOG) writeFileSync(process.env.VIGIL_BENCH_SERVER_LOG, server.output());
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
