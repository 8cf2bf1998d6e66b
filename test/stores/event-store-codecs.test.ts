// Column codecs (issue 20): a store made with ClickHouse's default codecs (LZ4; raw at ZSTD(3)) gets the event
// store's codecs from init(), once (a second init() has nothing left to change), and keeps reading its old rows
// and storing new ones; a new store is made with them.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChdbEngine } from '../../src/stores/events/chdb-engine.ts';
import { ClickHouseEventStore } from '../../src/stores/events/clickhouse-store.ts';
import { codecMigrations, eventStoreDdl } from '../../src/stores/events/ddl.ts';
import type { VigilEvent } from '../../src/schema/event.ts';

const T = Math.floor(Date.now() / 1000) * 1000 - 3_600_000;
const at = (s: number) => new Date(T + s * 1000).toISOString();
const event = (id: string, s: number): VigilEvent => ({ '@timestamp': at(s), agent: { id: 'h', tenant_id: 't' }, event: { id, type: 'process_start', ingested: at(s) },
  process: { pid: 1, entity_id: 'E', command_line: `job ${id}` } });

test('init() gives a store made with the default codecs the event store\'s codecs, once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-codecs-'));
  const engine = new ChdbEngine(dir);
  try {
    // The previous DDL: no CODEC clauses but raw's ZSTD(3).
    for (const sql of eventStoreDdl({ retentionDays: 30 })) await engine.query(sql.replace(/ CODEC\((?:[^()]|\([^()]*\))*\)/g, '').replace(/raw String,/g, 'raw String CODEC(ZSTD(3)),'));
    const codecs = () => engine.query<{ table: string; name: string; codec: string }>(`SELECT table, name, compression_codec AS codec FROM system.columns
      WHERE database = currentDatabase() AND table IN ('telemetry_events', 'process_lifecycle')`);
    const before = await codecs();
    assert.equal(before.find((c) => c.table === 'telemetry_events' && c.name === 'event_id')?.codec, '', 'the old table has LZ4');
    assert.ok(codecMigrations(before).length > 20, 'every column is to change');
    const old = new ClickHouseEventStore(engine);
    await old.insert([event('old', 0)]);

    const store = new ClickHouseEventStore(engine);
    await store.init();
    const after = await codecs();
    assert.deepEqual(codecMigrations(after), [], 'nothing left to change');
    const codecOf = (table: string, name: string) => after.find((c) => c.table === table && c.name === name)?.codec;
    assert.equal(codecOf('telemetry_events', 'timestamp'), 'CODEC(DoubleDelta, ZSTD(3))');
    assert.equal(codecOf('telemetry_events', 'raw'), 'CODEC(ZSTD(6))');
    assert.equal(codecOf('telemetry_events', 'process_command_line'), 'CODEC(ZSTD(3))');
    assert.equal(codecOf('process_lifecycle', 'entity_id'), 'CODEC(ZSTD(3))');
    await store.init(); // idempotent

    await store.insert([event('new', 5)]);
    assert.deepEqual((await store.queryEvents({ tenantId: 't', limit: 10 })).events.map((e) => e.event.id), ['new', 'old']);
    assert.deepEqual((await store.queryEvents({ tenantId: 't', limit: 10, q: 'job old' })).events.map((e) => e.event.id), ['old']);
    assert.deepEqual((await store.processEvents('t', 'h', ['E'])).map((e) => e.event.id), ['old', 'new']);
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
