// The event store's DDL for a ClickHouse cluster, derived from the single-node DDL (ddl.ts) so the two
// never drift: each table becomes `<name>_local` (Replicated* engine, created ON CLUSTER) plus a
// Distributed table under the original name, sharded by (tenant, host). The store's queries keep the
// same text: they address the Distributed names, and FINAL / GROUP BY per host stay shard-local because a
// host's rows all live on one shard. The materialised views (hourly rollup, process lifecycle) read and write local tables.

import { eventStoreDdl } from './ddl.ts';

export interface ClusterDdlOptions {
  cluster: string; // the <remote_servers> cluster name
  retentionDays: number;
}

const TABLES = ['telemetry_events', 'events_hourly', 'process_nodes', 'process_lifecycle'];
const SHARDING_KEY = 'cityHash64(tenant_id, host_id)';
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function clusterEventStoreDdl(o: ClusterDdlOptions): string[] {
  if (!IDENTIFIER.test(o.cluster)) throw new Error(`invalid cluster name '${o.cluster}'`);
  const onCluster = `ON CLUSTER ${o.cluster}`;
  const local = (sql: string) => TABLES.reduce(
    (s, t) => s.replace(new RegExp(`\\b${t}\\b`, 'g'), `${t}_local`), sql);
  const statements = eventStoreDdl({ retentionDays: o.retentionDays, engineSuffix: 'Replicated' }).map((sql) =>
    local(sql).replace(/^CREATE (TABLE|MATERIALIZED VIEW) IF NOT EXISTS (\w+)/, `CREATE $1 IF NOT EXISTS $2 ${onCluster}`));
  const distributed = TABLES.map((t) =>
    `CREATE TABLE IF NOT EXISTS ${t} ${onCluster} AS ${t}_local
    ENGINE = Distributed(${o.cluster}, currentDatabase(), ${t}_local, ${SHARDING_KEY})`);
  return [...statements, ...distributed];
}
