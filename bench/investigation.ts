// bench:investigation — the analyst's reads on a large store: a `vigil up` server process (no agent) over a data
// directory holding N generated events (10 million by default, made inside the event store by one INSERT …
// SELECT over numbers(), so generation costs seconds, not an ingest run) of a host population, and 100,000
// alerts about those processes. Measures, over loopback, the p95 of
//   - the process endpoint (GET /hosts/{id}/processes/{entity_id}: process, ancestors, children, exec chain,
//     event counts, alerts) on random processes;
//   - the alert list grouped by rule, by host and by process (GET /alerts?group_by=…, with its total), and the
//     plain list with its total;
//   - the host timeline page (GET /events?host=…&limit=100, newest first, and one filtered by type and text).
// Each generated process has 10 events (start, file writes and creations, connections, end); processes form trees
// of fan-out 4 per host, so ancestors run ~10 deep. The last line is
// {"bench":"investigation","events":…,"process_p95_ms":…,"alerts_p95_ms":…,"timeline_p95_ms":…}.
//   npm run bench:investigation -- [--events 10000000] [--alerts 100000] [--hosts 20] [--requests 200] [--data-dir DIR]
// --data-dir keeps the populated data directory (populated once, reused by later runs with the same figures; a
// run on a directory made by an older Vigil also exercises its schema upgrade).

import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SqliteAlertStore } from '../src/stores/alerts/sqlite.ts';
import { ChdbEngine } from '../src/stores/events/chdb-engine.ts';
import { ClickHouseEventStore } from '../src/stores/events/clickhouse-store.ts';
import { SqliteMetadataStore } from '../src/stores/metadata/sqlite.ts';
import { startVigil, type VigilProcess } from '../test/support/vigil-process.ts';
import { benchHostId, generatedAlerts } from './support/generated-alerts.ts';

const { values } = parseArgs({ options: {
  events: { type: 'string', default: '10000000' }, alerts: { type: 'string', default: '100000' },
  hosts: { type: 'string', default: '20' }, requests: { type: 'string', default: '200' }, 'data-dir': { type: 'string' },
} });
const EVENTS = Number(values.events);
const ALERTS = Number(values.alerts);
const HOSTS = Number(values.hosts);
const REQUESTS = Number(values.requests);
const EVENTS_PER_PROCESS = 10;
const PROCESSES = Math.floor(EVENTS / EVENTS_PER_PROCESS);
const TENANT = 'default';
const SPAN_MS = 7 * 86_400_000;
const START_MS = Date.now() - SPAN_MS - 3_600_000;
const hostId = benchHostId;

/**
 * One INSERT … SELECT: process p (of PROCESSES) runs on host p % HOSTS; its parent is the process p div 4 on a
 * host tree of its own (processes of one host: p = h + HOSTS·i, parent index i div 4), so ancestors exist.
 */
function generateSql(): string {
  const t = `toDateTime64(${START_MS / 1000}, 3, 'UTC') + toIntervalMillisecond(intDiv(p, 1) * ${Math.floor(SPAN_MS / Math.max(1, PROCESSES))} + k * 7)`;
  return `INSERT INTO telemetry_events (tenant_id, host_id, timestamp, event_id, event_type, ingested, raw, event_category, hostname,
      process_entity_id, process_pid, process_ppid, process_name, process_executable, process_command_line, process_parent_entity_id,
      process_parent_executable, user_name, user_id, file_path, source_ip, source_port, destination_ip, destination_port, mitre)
    SELECT '${TENANT}', host, ts, eid, type, ts, raw, category, hostname, ent, pid, ppid, name, exe, cmd, pent, pexe, 'alice', '1000',
      fpath, '', 0, dip, dport, []
    FROM (
      SELECT number, intDiv(number, ${EVENTS_PER_PROCESS}) AS p, number % ${EVENTS_PER_PROCESS} AS k,
        p % ${HOSTS} AS h, intDiv(p, ${HOSTS}) AS i,
        concat('agt-bench', leftPad(toString(h), 4, '0')) AS host, concat('bench-', toString(h)) AS hostname,
        ${t} AS ts, concat('0190b000-0000-7000-8000-', leftPad(toString(number), 12, '0')) AS eid,
        multiIf(k = 0, 'process_start', k = ${EVENTS_PER_PROCESS - 1}, 'process_end', k < 4, 'file_write', k < 6, 'network_connection', 'file_create') AS type,
        multiIf(k = 0 OR k = ${EVENTS_PER_PROCESS - 1}, 'process', k < 4 OR k >= 6, 'file', 'network') AS category,
        concat('e', toString(h), '-', toString(i)) AS ent, concat('e', toString(h), '-', toString(intDiv(i, 4))) AS pent,
        toUInt32(i % 4000000 + 2) AS pid, toUInt32(intDiv(i, 4) % 4000000 + 2) AS ppid,
        arrayElement(['bash', 'python3', 'curl', 'tar', 'sshd', 'node', 'cron', 'sh'], (i % 8) + 1) AS name,
        concat('/usr/bin/', name) AS exe, concat(name, ' --job ', toString(i)) AS cmd,
        concat('/usr/bin/', arrayElement(['bash', 'python3', 'curl', 'tar', 'sshd', 'node', 'cron', 'sh'], (intDiv(i, 4) % 8) + 1)) AS pexe,
        if(category = 'file', concat('/var/tmp/job-', toString(i), '/out-', toString(k)), '') AS fpath,
        if(category = 'network', concat('10.', toString(i % 250), '.', toString(k), '.7'), '') AS dip, toUInt16(if(category = 'network', 443, 0)) AS dport,
        concat('{"@timestamp":"', replaceOne(toString(ts), ' ', 'T'), 'Z","agent":{"id":"', host, '","hostname":"', hostname, '","tenant_id":"${TENANT}"},',
          '"event":{"id":"', eid, '","type":"', type, '","category":"', category, '"},',
          '"process":{"pid":', toString(pid), ',"ppid":', toString(ppid), ',"entity_id":"', ent, '","executable":"', exe, '","name":"', name,
          '","command_line":"', cmd, '","start":"', replaceOne(toString(${t.replace('k * 7', '0')}), ' ', 'T'), 'Z",',
          '"parent":{"pid":', toString(ppid), ',"entity_id":"', pent, '","executable":"', pexe, '"}},',
          '"user":{"id":"1000","name":"alice"}',
          if(fpath != '', concat(',"file":{"path":"', fpath, '"}'), ''),
          if(dip != '', concat(',"destination":{"ip":"', dip, '","port":443},"network":{"transport":"tcp","direction":"outbound"}'), ''),
          '}') AS raw
      FROM numbers(${EVENTS})
    )`;
}

async function populate(dir: string): Promise<void> {
  const metadata = new SqliteMetadataStore(join(dir, 'metadata.db'));
  await metadata.migrate();
  await metadata.ensureTenant(TENANT, 'Default tenant');
  for (let h = 0; h < HOSTS; h++) {
    await metadata.upsertHost({ id: hostId(h), tenantId: TENANT, hostname: `bench-${h}`, os: 'linux', kernel: '6.8', agentVersion: '0.1.0',
      certSerial: `s${h}`, certNotAfter: Date.now() + 86_400_000, enrolledAt: START_MS });
  }
  await metadata.close();

  const engine = new ChdbEngine(join(dir, 'events'));
  const store = new ClickHouseEventStore(engine);
  await store.init();
  const t0 = performance.now();
  await engine.query(generateSql(), {}, { timeoutMs: 3_600_000 });
  console.log(`generated ${EVENTS.toLocaleString()} events in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  await engine.close();

  const alerts = new SqliteAlertStore(join(dir, 'detection.db'));
  await alerts.migrate();
  const population = { tenant: TENANT, hosts: HOSTS, processes: PROCESSES, startMs: START_MS, spanMs: SPAN_MS };
  for (let a = 0; a < ALERTS; a += 1000) await alerts.write(generatedAlerts(population, a, Math.min(ALERTS, a + 1000)));
  await alerts.close();
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
    const processPath = () => { const h = rnd(HOSTS); return `/hosts/${hostId(h)}/processes/e${h}-${rnd(perHost)}`; };
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
