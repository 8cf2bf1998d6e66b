// bench:alert-list — the alert list's reads at the store level, SQLite and PostgreSQL (127.0.0.1:5432, a
// throw-away database; skipped when unreachable): 100,000 alerts (150 rules, 20 hosts, ~one process each, a
// fifth closed), then the p50/p95 of each read the API makes for GET /alerts: the plain page with its total and
// the groups by rule, host and process with their total, unfiltered and filtered (status=open, one host, one
// severity), first pages and second pages (cursor); and the plain page and the groups by rule filtered by user,
// by file path (substring) and by image hash (fewer requests each: they were the slow ones).
//   node bench/alert-list.ts [--alerts 100000] [--requests 100] [--store sqlite|postgres|both]

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PostgresAlertStore } from '../src/stores/alerts/postgres.ts';
import { SqliteAlertStore } from '../src/stores/alerts/sqlite.ts';
import type { AlertFilter, AlertStore, GroupBy } from '../src/stores/alerts/types.ts';
import { createTempDatabase } from '../test/support/postgres.ts';
import { benchHash, benchHostId, benchUser, generatedAlerts } from './support/generated-alerts.ts';

const { values } = parseArgs({ options: {
  alerts: { type: 'string', default: '100000' }, requests: { type: 'string', default: '100' }, store: { type: 'string', default: 'both' },
} });
const ALERTS = Number(values.alerts);
const REQUESTS = Number(values.requests);
const TENANT = 'default';
const HOSTS = 20;
const PROCESSES = 1_000_000;
const SPAN_MS = 7 * 86_400_000;
const START_MS = Date.now() - SPAN_MS;
const hostId = benchHostId;

async function populate(store: AlertStore): Promise<void> {
  await store.migrate();
  const population = { tenant: TENANT, hosts: HOSTS, processes: PROCESSES, startMs: START_MS, spanMs: SPAN_MS };
  for (let a = 0; a < ALERTS; a += 1000) await store.write(generatedAlerts(population, a, Math.min(ALERTS, a + 1000)));
  // A fifth closed, a tenth acknowledged (bulk triage in bounded calls).
  for (let h = 0; h < HOSTS; h += 5) {
    await store.bulkTriage({ tenantId: TENANT, hostIds: [hostId(h)] }, 'bench', { action: 'close', disposition: 'benign', reason: 'bench' }, 100_000);
  }
  await store.bulkTriage({ tenantId: TENANT, hostIds: [hostId(1), hostId(11)] }, 'bench', { action: 'acknowledge' }, 100_000);
}

const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? 0;
const ms = (x: number) => Math.round(x * 10) / 10;

type Read = { name: string; run: () => Promise<unknown>; requests?: number };

function reads(store: AlertStore): Read[] {
  const base: AlertFilter = { tenantId: TENANT };
  const filters: [string, AlertFilter][] = [
    ['all', base], ['open', { ...base, statuses: ['open'] }], ['host', { ...base, hostIds: [hostId(3)] }], ['high', { ...base, severities: ['high'] }],
  ];
  const out: Read[] = [];
  for (const [fname, f] of filters) {
    out.push({ name: `list ${fname}`, run: () => Promise.all([store.list({ ...f, limit: 100 }), store.count(f)]) });
    for (const by of ['rule', 'host', 'process'] as GroupBy[]) {
      out.push({ name: `groups ${by} ${fname}`, run: () => Promise.all([store.groups({ ...f, limit: 50 }, by), store.count(f)]) });
      out.push({ name: `groups ${by} ${fname} p2`, run: async () => {
        const first = await store.groups({ ...f, limit: 50 }, by);
        const t0 = performance.now();
        if (first.next) await Promise.all([store.groups({ ...f, limit: 50, cursor: first.next }, by), store.count(f)]);
        return performance.now() - t0;
      } });
    }
  }
  const evidence: [string, AlertFilter][] = [
    ['user', { ...base, userName: benchUser(7) }], ['file', { ...base, filePath: '/job-12345/' }], ['hash', { ...base, sha256: benchHash(42) }],
  ];
  const requests = Math.min(REQUESTS, 20);
  for (const [fname, f] of evidence) {
    out.push({ name: `list ${fname}`, requests, run: () => Promise.all([store.list({ ...f, limit: 100 }), store.count(f)]) });
    out.push({ name: `groups rule ${fname}`, requests, run: () => Promise.all([store.groups({ ...f, limit: 50 }, 'rule'), store.count(f)]) });
  }
  return out;
}

async function measure(name: string, store: AlertStore): Promise<void> {
  const t0 = performance.now();
  await populate(store);
  console.log(`${name}: ${ALERTS.toLocaleString()} alerts written in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  let worst = 0;
  for (const r of reads(store)) {
    const xs: number[] = [];
    for (let i = 0; i < (r.requests ?? REQUESTS); i++) {
      const s = performance.now();
      const v = await r.run();
      xs.push(typeof v === 'number' ? v : performance.now() - s);
    }
    worst = Math.max(worst, percentile(xs, 0.95));
    console.log(`${name} ${r.name}: p50 ${ms(percentile(xs, 0.5))} ms, p95 ${ms(percentile(xs, 0.95))} ms`);
  }
  console.log(JSON.stringify({ bench: 'alert-list', store: name, alerts: ALERTS, worst_p95_ms: ms(worst) }));
}

if (values.store !== 'postgres') {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-alerts-'));
  const store = new SqliteAlertStore(join(dir, 'detection.db'));
  try { await measure('sqlite', store); } finally { await store.close(); rmSync(dir, { recursive: true, force: true }); }
}
if (values.store !== 'sqlite') {
  let db: Awaited<ReturnType<typeof createTempDatabase>> | undefined;
  try { db = await createTempDatabase('benchalerts'); } catch (err) { console.log(`postgres: skipped (${(err as Error).message})`); }
  if (db) {
    const store = new PostgresAlertStore({ ...db.config, max: 5 });
    try { await measure('postgres', store); } finally { await store.close(); await db.drop(); }
  }
}
