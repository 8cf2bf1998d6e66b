// The cluster DDL's shape: local Replicated tables and Distributed tables under the single-node names.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clusterEventStoreDdl } from '../../src/stores/events/cluster-ddl.ts';
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

test('refuses a cluster name that is not an identifier', () => {
  assert.throws(() => clusterEventStoreDdl({ cluster: 'x; DROP', retentionDays: 1 }), /invalid cluster name/);
});
