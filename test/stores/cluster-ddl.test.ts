// The cluster DDL's shape: local Replicated tables and Distributed tables under the single-node names.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clusterEventStoreDdl, clusterEventStoreMigrations } from '../../src/stores/events/cluster-ddl.ts';
import { eventStoreDdl } from '../../src/stores/events/ddl.ts';

test('every single-node table becomes a Replicated local table plus a Distributed table of the same name', () => {
  const ddl = clusterEventStoreDdl({ cluster: 'vigil', retentionDays: 30 });
  assert.equal(ddl.length, eventStoreDdl({ retentionDays: 30 }).length + 4);
  for (const t of ['telemetry_events', 'events_hourly', 'process_nodes', 'process_lifecycle']) {
    const localSql = ddl.find((s) => s.startsWith(`CREATE TABLE IF NOT EXISTS ${t}_local ON CLUSTER vigil (`));
    assert.ok(localSql, `${t}_local`);
    assert.match(localSql, /ENGINE = Replicated(Replacing|Summing)MergeTree/);
    assert.match(localSql, /INTERVAL 30 DAY/);
    const dist = ddl.find((s) => s.startsWith(`CREATE TABLE IF NOT EXISTS ${t} ON CLUSTER vigil AS ${t}_local`));
    assert.match(dist ?? '', new RegExp(`Distributed\\(vigil, currentDatabase\\(\\), ${t}_local, cityHash64\\(tenant_id, host_id\\)\\)`));
  }
  const mv = ddl.find((s) => s.includes('MATERIALIZED VIEW'));
  assert.match(mv ?? '', /events_hourly_mv ON CLUSTER vigil TO events_hourly_local AS[\s\S]*FROM telemetry_events_local/);
  const lifecycle = ddl.find((s) => s.includes('process_lifecycle_mv'));
  assert.match(lifecycle ?? '', /process_lifecycle_mv ON CLUSTER vigil TO process_lifecycle_local AS[\s\S]*FROM telemetry_events_local/);
});

test('migrations of a cluster made before issue 22: columns on the local and Distributed tables, indexes and the view on every node', () => {
  const old = "CREATE MATERIALIZED VIEW default.process_lifecycle_mv TO default.process_lifecycle_local AS SELECT … WHERE event_type IN ('process_fork', 'process_start', 'process_end')";
  const sql = clusterEventStoreMigrations('vigil', old);
  assert.ok(sql.includes("ALTER TABLE telemetry_events_local ON CLUSTER vigil ADD COLUMN IF NOT EXISTS process_hash_sha256 String DEFAULT JSONExtractString(raw, 'process', 'hash', 'sha256')"));
  assert.ok(sql.includes("ALTER TABLE telemetry_events ON CLUSTER vigil ADD COLUMN IF NOT EXISTS dns_question_name String DEFAULT JSONExtractString(raw, 'dns', 'question', 'name')"));
  assert.ok(sql.includes('ALTER TABLE telemetry_events_local ON CLUSTER vigil ADD INDEX IF NOT EXISTS idx_sha256 process_hash_sha256 TYPE bloom_filter(0.01) GRANULARITY 4'));
  assert.ok(sql.includes('DROP VIEW IF EXISTS process_lifecycle_mv ON CLUSTER vigil'));
  assert.match(sql.find((s) => s.startsWith('CREATE MATERIALIZED VIEW')) ?? '', /process_lifecycle_mv ON CLUSTER vigil TO process_lifecycle_local AS[\s\S]*FROM telemetry_events_local WHERE event_type IN \([^)]*'process_hash'\)/);
  assert.match(sql.find((s) => s.startsWith('INSERT')) ?? '', /^INSERT INTO process_lifecycle SELECT[\s\S]*FROM telemetry_events WHERE/);
  assert.ok(clusterEventStoreMigrations('vigil', old.replace("'process_end')", "'process_end', 'process_hash')")).every((s) => s.startsWith('ALTER')),
    'a view with every type is left as it is');
});

test('refuses a cluster name that is not an identifier', () => {
  assert.throws(() => clusterEventStoreDdl({ cluster: 'x; DROP', retentionDays: 1 }), /invalid cluster name/);
});
