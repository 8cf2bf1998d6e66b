// The event store's DDL for a ClickHouse cluster, derived from the single-node DDL (ddl.ts) so the two
// never drift: each table becomes `<name>_local` (Replicated* engine, created ON CLUSTER) plus a
// Distributed table under the original name, sharded by (tenant, host). The store's queries keep the
// same text: they address the Distributed names, and FINAL / GROUP BY per host stay shard-local because a
// host's rows all live on one shard. The materialised views (hourly rollup, process lifecycle) read and write local tables.

import { eventStoreDdl, eventStoreMigrations } from './ddl.ts';

export interface ClusterDdlOptions {
  cluster: string; // the <remote_servers> cluster name
  retentionDays: number;
}

const TABLES = ['telemetry_events', 'events_hourly', 'process_nodes', 'process_lifecycle'];
const SHARDING_KEY = 'cityHash64(tenant_id, host_id)';
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `sql` with every table name made its `_local` table's. */
const local = (sql: string) => TABLES.reduce((s, t) => s.replace(new RegExp(`\\b${t}\\b`, 'g'), `${t}_local`), sql);

function onClusterOf(cluster: string): string {
  if (!IDENTIFIER.test(cluster)) throw new Error(`invalid cluster name '${cluster}'`);
  return `ON CLUSTER ${cluster}`;
}

export function clusterEventStoreDdl(o: ClusterDdlOptions): string[] {
  const onCluster = onClusterOf(o.cluster);
  const statements = eventStoreDdl({ retentionDays: o.retentionDays, engineSuffix: 'Replicated' }).map((sql) =>
    local(sql).replace(/^CREATE (TABLE|MATERIALIZED VIEW) IF NOT EXISTS (\w+)/, `CREATE $1 IF NOT EXISTS $2 ${onCluster}`));
  const distributed = TABLES.map((t) =>
    `CREATE TABLE IF NOT EXISTS ${t} ${onCluster} AS ${t}_local
    ENGINE = Distributed(${o.cluster}, currentDatabase(), ${t}_local, ${SHARDING_KEY})`);
  return [...statements, ...distributed];
}

/**
 * The single-node migrations (ddl.ts eventStoreMigrations) for a cluster made by an earlier version: the columns
 * added to the local tables and to the Distributed table over them, the skip indexes to the local tables, and the
 * lifecycle view replaced on every node and its recent rows copied again through the Distributed tables
 * (`lifecycleView`: its CREATE text on one node, as system.tables shows it).
 */
export function clusterEventStoreMigrations(cluster: string, lifecycleView: string | undefined): string[] {
  const onCluster = onClusterOf(cluster);
  return eventStoreMigrations(lifecycleView).flatMap((sql) => {
    const addColumn = /^ALTER TABLE telemetry_events (ADD COLUMN .*)$/s.exec(sql);
    if (addColumn) return [`ALTER TABLE telemetry_events_local ${onCluster} ${addColumn[1]}`, `ALTER TABLE telemetry_events ${onCluster} ${addColumn[1]}`];
    if (sql.startsWith('INSERT')) return [sql]; // from Distributed to Distributed: every shard's rows, each to its shard
    return [local(sql).replace(/^(ALTER TABLE|DROP VIEW IF EXISTS|CREATE MATERIALIZED VIEW IF NOT EXISTS) (\w+)/, `$1 $2 ${onCluster}`)];
  });
}
