// An event store made before issue 22 (no hash, DNS and container columns; a process_lifecycle view without
// process_hash) is brought up to date by init(): the columns and skip indexes are added, old rows read them
// from `raw`, the lifecycle view is replaced and a process_hash event lands in process_lifecycle. On the
// in-process engine (chdb) and on a ClickHouse server over HTTP (the test fixture).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChdbEngine } from '../../src/stores/events/chdb-engine.ts';
import { ClickHouseHttpEngine } from '../../src/stores/events/clickhouse-http.ts';
import type { SqlEngine } from '../../src/stores/events/engine.ts';
import { spawnClickHouseFixture } from '../fixtures/clickhouse-http-server.ts';
import { ClickHouseEventStore } from '../../src/stores/events/clickhouse-store.ts';
import { eventStoreDdl, lifecycleViewMigration } from '../../src/stores/events/ddl.ts';
import type { VigilEvent } from '../../src/schema/event.ts';

const ADDED = ['process_hash_sha256', 'dns_question_name', 'container_id'];
const T = new Date(Math.floor(Date.now() / 1000) * 1000 - 3_600_000);
const at = (s: number) => new Date(T.getTime() + s * 1000).toISOString();

const ENGINES: { name: string; open(dir: string): Promise<{ engine: SqlEngine; stop(): Promise<void> }> }[] = [
  { name: 'chdb', open: async (dir) => ({ engine: new ChdbEngine(dir), stop: async () => undefined }) },
  { name: 'ClickHouse HTTP (fixture server)', async open(dir) {
    const server = await spawnClickHouseFixture(dir);
    return { engine: new ClickHouseHttpEngine({ url: server.url }), stop: () => server.stop() };
  } },
];

for (const impl of ENGINES) test(`init() migrates a store made by the previous version: ${impl.name}`, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-migrate-'));
  const { engine, stop } = await impl.open(dir);
  try {
    // The previous version's DDL: today's, without the added columns and indexes, and the old view.
    for (const sql of eventStoreDdl({ retentionDays: 30 })) {
      const old = sql.split('\n').filter((l) => !ADDED.some((c) => l.includes(c))).join('\n').replace(/,(\s*\) ENGINE)/, '$1')
        .replace(", 'process_hash')", ')');
      await engine.query(old);
    }
    const columns = async () => (await engine.query<{ name: string }>("SELECT name FROM system.columns WHERE database = currentDatabase() AND table = 'telemetry_events'")).map((r) => r.name);
    assert.ok(!(await columns()).includes('process_hash_sha256'), 'the old table');
    const raw = JSON.stringify({ '@timestamp': at(0), agent: { id: 'h', tenant_id: 't' }, event: { id: 'old', type: 'process_start' },
      process: { pid: 1, entity_id: 'E', hash: { sha256: 'a'.repeat(64) } }, dns: { question: { name: 'old.example' } } });
    await engine.insertJsonEachRow('telemetry_events', Buffer.from(JSON.stringify({ tenant_id: 't', host_id: 'h', timestamp: at(0).replace('T', ' ').replace('Z', ''), event_id: 'old', event_type: 'process_start', ingested: at(0).replace('T', ' ').replace('Z', ''), raw })));

    const store = new ClickHouseEventStore(engine);
    await store.init();
    await store.init(); // idempotent
    for (const c of ADDED) assert.ok((await columns()).includes(c), c);
    const [old] = await engine.query<{ h: string; d: string }>("SELECT process_hash_sha256 AS h, dns_question_name AS d FROM telemetry_events WHERE event_id = 'old'");
    assert.deepEqual(old, { h: 'a'.repeat(64), d: 'old.example' }, 'an old row reads the new columns from raw');
    const [view] = await engine.query<{ q: string }>("SELECT create_table_query AS q FROM system.tables WHERE database = currentDatabase() AND name = 'process_lifecycle_mv'");
    assert.deepEqual(lifecycleViewMigration(view.q), [], 'the view selects process_hash now');

    const hashEvent: VigilEvent = { '@timestamp': at(5), agent: { id: 'h', tenant_id: 't' }, event: { id: 'new', type: 'process_hash', ingested: at(5) },
      process: { pid: 1, entity_id: 'E', hash: { sha256: 'b'.repeat(64) } } };
    await store.insert([hashEvent]);
    assert.deepEqual((await store.processEvents('t', 'h', ['E'])).map((e) => e.event.id), ['old', 'new']);
    assert.deepEqual((await store.queryEvents({ tenantId: 't', limit: 10, sha256: 'b'.repeat(64) })).events.map((e) => e.event.id), ['new', 'old']);
    await store.close();
  } finally {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
