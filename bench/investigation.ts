// bench:investigation — the analyst's reads on a large store: a `vigil up` server process (no agent) over a data
// directory holding N generated events (10 million by default, made inside the event store by one INSERT …
// SELECT over numbers(), so generation costs seconds, not an ingest run) of a host population, and 100,000
// alerts about those processes. Measures, over loopback, the p95 of
//   - the process endpoint (GET /hosts/{id}/processes/{entity_id}: process, ancestors, children, exec chain,
//     event counts, alerts) on random processes;
//   - the alert list grouped by rule, by host and by process (GET /alerts?group_by=…, with its total), and the
//     plain list with its total;
//   - the host timeline page (GET /events?host=…&limit=100, newest first, and one filtered by type and text).
// The events and alerts are bench/support/generated-events.ts's: each process has 10 events (start, file writes and
// creations, connections, end); processes form trees of fan-out 4 per host, so ancestors run ~10 deep. The last line is
// {"bench":"investigation","events":…,"process_p95_ms":…,"alerts_p95_ms":…,"timeline_p95_ms":…}.
//   npm run bench:investigation -- [--events 10000000] [--alerts 100000] [--hosts 20] [--requests 200] [--data-dir DIR]
// --data-dir keeps the populated data directory (populated once, reused by later runs with the same figures; a
// run on a directory made by an older Vigil also exercises its schema upgrade).

import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startVigil, type VigilProcess } from '../test/support/vigil-process.ts';
import { benchEntityId, benchHostId } from './support/generated-alerts.ts';
import { EVENTS_PER_PROCESS, populateStore } from './support/generated-events.ts';

const { values } = parseArgs({ options: {
  events: { type: 'string', default: '10000000' }, alerts: { type: 'string', default: '100000' },
  hosts: { type: 'string', default: '20' }, requests: { type: 'string', default: '200' }, 'data-dir': { type: 'string' },
} });
const EVENTS = Number(values.events);
const ALERTS = Number(values.alerts);
const HOSTS = Number(values.hosts);
const REQUESTS = Number(values.requests);
const PROCESSES = Math.floor(EVENTS / EVENTS_PER_PROCESS);
const TENANT = 'default';
const SPAN_MS = 7 * 86_400_000;
const START_MS = Date.now() - SPAN_MS - 3_600_000;
const hostId = benchHostId;

async function populate(dir: string): Promise<void> {
  const { generateSeconds } = await populateStore(dir, { tenant: TENANT, hosts: HOSTS, events: EVENTS, startMs: START_MS, spanMs: SPAN_MS }, ALERTS);
  console.log(`generated ${EVENTS.toLocaleString()} events in ${generateSeconds.toFixed(1)} s`);
}

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))] ?? 0;
};

async function timed(v: VigilProcess, paths: () => string, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let r = 0; r < n; r++) {
    const path = paths();
    const t0 = performance.now();
    const res = await fetch(`${v.apiUrl}/api/v1${path}`, { headers: { authorization: `Bearer ${v.apiKey}` } });
    const body = await res.text();
    if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${body.slice(0, 300)}`);
    out.push(performance.now() - t0);
  }
  return out;
}

const kept = values['data-dir'];
const dir = kept ?? mkdtempSync(join(tmpdir(), 'vigil-bench-investigation-'));
try {
  const marker = join(dir, `populated-${EVENTS}-${ALERTS}-${HOSTS}`);
  if (!kept || !existsSync(marker)) {
    if (kept) { rmSync(dir, { recursive: true, force: true }); mkdirSync(dir, { recursive: true }); }
    await populate(dir);
    writeFileSync(marker, '');
  }
  const v = await startVigil(['up', '--no-agent', '--data-dir', dir, '--http', '127.0.0.1:0', '--grpc', '127.0.0.1:0',
    '--rate-limit-user', '100000000', '--rate-limit-tenant', '100000000'], dir, 300_000);
  try {
    const rnd = (n: number) => Math.floor(Math.random() * n);
    const perHost = Math.max(1, Math.floor(PROCESSES / HOSTS));
    const processPath = () => { const h = rnd(HOSTS); return `/hosts/${hostId(h)}/processes/${benchEntityId(h, rnd(perHost))}`; };
    const groups = ['rule', 'host', 'process'];
    const alertPath = () => (Math.random() < 0.75 ? `/alerts?group_by=${groups[rnd(3)]}&limit=50` : `/alerts?limit=100`);
    const timelinePath = () => (Math.random() < 0.5 ? `/events?host=${hostId(rnd(HOSTS))}&limit=100` : `/events?host=${hostId(rnd(HOSTS))}&type=file_write&q=job-${rnd(perHost)}&limit=100`);
    const sample = await (await fetch(`${v.apiUrl}/api/v1${processPath()}`, { headers: { authorization: `Bearer ${v.apiKey}` } })).json() as { ancestors?: unknown[] };
    console.log(`a process endpoint answer has ${sample.ancestors?.length ?? 0} ancestors`);
    await timed(v, processPath, 10); // warm-up
    const proc = await timed(v, processPath, REQUESTS);
    const alerts = await timed(v, alertPath, REQUESTS);
    const timeline = await timed(v, timelinePath, REQUESTS);
    const ms = (x: number) => Math.round(x * 10) / 10;
    for (const [name, xs] of [['process', proc], ['alerts', alerts], ['timeline', timeline]] as const) {
      console.log(`${name}: p50 ${ms(percentile(xs, 0.5))} ms, p95 ${ms(percentile(xs, 0.95))} ms, max ${ms(Math.max(...xs))} ms (${xs.length} requests)`);
    }
    console.log(JSON.stringify({
      bench: 'investigation', events: EVENTS, alerts: ALERTS, hosts: HOSTS,
      process_p95_ms: ms(percentile(proc, 0.95)), alerts_p95_ms: ms(percentile(alerts, 0.95)), timeline_p95_ms: ms(percentile(timeline, 0.95)),
      process_p50_ms: ms(percentile(proc, 0.5)), alerts_p50_ms: ms(percentile(alerts, 0.5)), timeline_p50_ms: ms(percentile(timeline, 0.5)),
    }));
  } finally {
    await v.stop('SIGTERM');
  }
} finally {
  if (!kept) rmSync(dir, { recursive: true, force: true });
}
