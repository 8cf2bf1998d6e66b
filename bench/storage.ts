// bench:storage — what the event store costs on disk and how fast the analyst's reads stay on a large store: N events
// (2 million by default; `--events 100000000` for the 100-million figure) of a host population made inside the event
// store (bench/support/generated-events.ts: one INSERT … SELECT over numbers()), then
//   - bytes per event on disk (the store's active parts: telemetry_events, process_lifecycle, events_hourly) against the
//     same events as JSON lines (their `raw` JSON and a newline), and the columns that take the most bytes;
//   - over a `vigil up --no-agent` process on that data directory, the p95 of: a host's process with its ancestry
//     (GET /hosts/{id}/processes/{entity_id}), a host timeline page (GET /events?host=…&to=…&limit=100 at a random
//     time), a command-line substring search over the last 24 h of the span on every host (GET /events?q=…&from=…),
//     and the 7-day alert count by rule (GET /alerts?group_by=rule&from=…, with its total).
// Goals (issue 20): ≥ 10:1 against JSON; 100 ms, 200 ms, 1 s, 1 s.
// Last line: {"bench":"storage","events":…,"bytes_per_event":…,"json_bytes_per_event":…,"ratio":…,"ancestry_p95_ms":…,…}
//   npm run bench:storage -- [--events 2000000] [--hosts 50] [--alerts 100000] [--requests 100] [--data-dir DIR]
// --data-dir keeps the populated directory (reused by a later run with the same figures).

import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ChdbEngine } from '../src/stores/events/chdb-engine.ts';
import { startVigil, type VigilProcess } from '../test/support/vigil-process.ts';
import { benchEntityId, benchHostId } from './support/generated-alerts.ts';
import { EVENTS_PER_PROCESS, populateStore } from './support/generated-events.ts';

const { values } = parseArgs({ options: {
  events: { type: 'string', default: '2000000' }, hosts: { type: 'string', default: '50' }, alerts: { type: 'string', default: '100000' },
  requests: { type: 'string', default: '100' }, 'data-dir': { type: 'string' },
} });
const EVENTS = Number(values.events);
const HOSTS = Number(values.hosts);
const ALERTS = Number(values.alerts);
const REQUESTS = Number(values.requests);
const TENANT = 'default';
const DAY_MS = 86_400_000;
const SPAN_MS = 7 * DAY_MS;
const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

interface Sizes { diskBytes: number; jsonBytes: number; byTable: Record<string, number>; topColumns: { column: string; bytes: number }[] }

/** Bytes of the active parts by table, the events' JSON lines, and the telemetry columns taking the most. */
async function measureSizes(eventsDir: string): Promise<Sizes> {
  const engine = new ChdbEngine(eventsDir);
  try {
    const tables = await engine.query<{ table: string; bytes: string }>(
      `SELECT table, sum(bytes_on_disk) AS bytes FROM system.parts WHERE active AND database = currentDatabase() GROUP BY table`);
    const [json] = await engine.query<{ bytes: string }>(`SELECT sum(length(raw) + 1) AS bytes FROM telemetry_events`, {}, { timeoutMs: 3_600_000 });
    const columns = await engine.query<{ column: string; bytes: string }>(
      `SELECT column, sum(column_data_compressed_bytes) AS bytes FROM system.parts_columns
       WHERE active AND table = 'telemetry_events' AND database = currentDatabase() GROUP BY column ORDER BY bytes DESC LIMIT 6`);
    const byTable = Object.fromEntries(tables.map((t) => [t.table, Number(t.bytes)]));
    return {
      diskBytes: Object.values(byTable).reduce((a, b) => a + b, 0), jsonBytes: Number(json.bytes), byTable,
      topColumns: columns.map((c) => ({ column: c.column, bytes: Number(c.bytes) })),
    };
  } finally {
    await engine.close();
  }
}

const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? 0;

async function timed(v: VigilProcess, path: () => string, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let r = 0; r < n; r++) {
    const p = path();
    const t0 = performance.now();
    const res = await fetch(`${v.apiUrl}/api/v1${p}`, { headers: { authorization: `Bearer ${v.apiKey}` } });
    const body = await res.text();
    if (res.status !== 200) throw new Error(`GET ${p}: ${res.status} ${body.slice(0, 300)}`);
    out.push(performance.now() - t0);
  }
  return out;
}

async function queries(v: VigilProcess, startMs: number): Promise<Record<string, number>> {
  const rnd = (n: number) => Math.floor(Math.random() * n);
  const perHost = Math.max(1, Math.floor(EVENTS / EVENTS_PER_PROCESS / HOSTS));
  const endMs = startMs + SPAN_MS;
  const iso = (ms: number) => new Date(ms).toISOString();
  const paths: Record<string, () => string> = {
    ancestry: () => { const h = rnd(HOSTS); return `/hosts/${benchHostId(h)}/processes/${benchEntityId(h, rnd(perHost))}`; },
    timeline: () => `/events?host=${benchHostId(rnd(HOSTS))}&to=${iso(startMs + rnd(SPAN_MS))}&limit=100`,
    // A rare command line (one process's job number, or a release tag a few processes share) on every host over 24 h.
    cmdline_search: () => `/events?q=${encodeURIComponent(Math.random() < 0.5 ? `--job ${rnd(perHost)} ` : `--release r${rnd(977)}`)}&from=${iso(endMs - DAY_MS)}&limit=100`,
    rule_count_7d: () => `/alerts?group_by=rule&from=${iso(endMs - SPAN_MS)}&limit=50`,
  };
  const out: Record<string, number> = {};
  for (const [name, path] of Object.entries(paths)) {
    await timed(v, path, 5); // warm-up: the first reads of a freshly opened store load its marks
    const load = loadavg();
    const xs = await timed(v, path, REQUESTS);
    console.log(`${name}: p50 ${round(percentile(xs, 0.5))} ms, p95 ${round(percentile(xs, 0.95))} ms, max ${round(Math.max(...xs))} ms (${xs.length} requests; load ${load})`);
    out[`${name}_p95_ms`] = round(percentile(xs, 0.95));
    out[`${name}_p50_ms`] = round(percentile(xs, 0.5));
  }
  return out;
}

const kept = values['data-dir'];
const dir = kept ?? mkdtempSync(join(tmpdir(), 'vigil-bench-storage-'));
try {
  const marker = join(dir, `populated-${EVENTS}-${ALERTS}-${HOSTS}`);
  let startMs = Date.now() - SPAN_MS - 3_600_000;
  if (!kept || !existsSync(marker)) {
    if (kept) { rmSync(dir, { recursive: true, force: true }); mkdirSync(dir, { recursive: true }); }
    const load = loadavg();
    const { generateSeconds } = await populateStore(dir, { tenant: TENANT, hosts: HOSTS, events: EVENTS, startMs, spanMs: SPAN_MS }, ALERTS);
    console.log(`generated ${EVENTS.toLocaleString()} events on ${HOSTS} hosts in ${round(generateSeconds)} s (load before ${load})`);
    writeFileSync(marker, String(startMs));
  } else {
    startMs = Number(readFileSync(marker, 'utf8'));
  }
  const sizes = await measureSizes(join(dir, 'events'));
  const perEvent = sizes.diskBytes / EVENTS;
  const jsonPerEvent = sizes.jsonBytes / EVENTS;
  console.log(`on disk ${round(sizes.diskBytes / 2 ** 20)} MiB = ${round(perEvent)} bytes per event (${Object.entries(sizes.byTable).map(([t, b]) => `${t} ${round(b / EVENTS)}`).join(', ')}); ` +
    `as JSON lines ${round(sizes.jsonBytes / 2 ** 20)} MiB = ${round(jsonPerEvent)} bytes per event; ratio ${round(jsonPerEvent / perEvent, 2)}:1`);
  console.log(`largest telemetry_events columns (bytes per event): ${sizes.topColumns.map((c) => `${c.column} ${round(c.bytes / EVENTS)}`).join(', ')}`);
  const v = await startVigil(['up', '--no-agent', '--data-dir', dir, '--http', '127.0.0.1:0', '--grpc', '127.0.0.1:0',
    '--rate-limit-user', '100000000', '--rate-limit-tenant', '100000000'], dir, 600_000);
  let reads: Record<string, number>;
  try {
    reads = await queries(v, startMs);
  } finally {
    await v.stop('SIGTERM');
  }
  console.log(JSON.stringify({
    bench: 'storage', events: EVENTS, hosts: HOSTS, alerts: ALERTS,
    bytes_per_event: round(perEvent), json_bytes_per_event: round(jsonPerEvent), ratio: round(jsonPerEvent / perEvent, 2),
    telemetry_bytes_per_event: round((sizes.byTable.telemetry_events ?? 0) / EVENTS), lifecycle_bytes_per_event: round((sizes.byTable.process_lifecycle ?? 0) / EVENTS),
    ...reads, loadavg: loadavg(),
  }));
} finally {
  if (!kept) rmSync(dir, { recursive: true, force: true });
}
