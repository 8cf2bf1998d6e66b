// The event store's ClickHouse DDL: the same text runs on the in-process engine (chdb) and on a ClickHouse
// server. Telemetry events (seed 000: monthly partitions, tenant-first ordering, TTL, skip indexes, hourly
// rollup), process nodes (seed 002 §9, keyed by (tenant, host, pid, start) so PID reuse never merges) and
// process lifecycle rows (the fork, start and end events again, keyed by (tenant, host, entity), filled by a
// materialised view from every insert into telemetry_events: the process endpoint's lookups by entity id and
// by parent read a few small granules instead of a host's whole time range; a start's ancestors' entity ids in
// ancestor_ids, so a process and its lineage are one read).
// The full event is kept as JSON in `raw`; the columns analysts filter on are materialised from it.

import { EXTRACTED_COLUMNS, type ExtractedColumn } from '../../schema/columns.ts';

// The store inserts these columns (clickhouse-store.ts); the list is the event dialect's, shared with the console.
export { EXTRACTED_COLUMNS, type ExtractedColumn };

export interface DdlOptions {
  retentionDays: number;
  engineSuffix?: string; // e.g. "Replicated" for clusters (see docs/scaling.md)
}

// An insert returns only when its part is on disk (fsynced): the agent's batch is acknowledged after that.
const DURABLE_INSERTS = 'fsync_after_insert = 1, fsync_part_directory = 1';

/** The events that start, re-image and end a process, and its executable's digests (the rows of process_lifecycle). */
export const LIFECYCLE_TYPES = ['process_fork', 'process_start', 'process_end', 'process_hash'];

/** The ancestors' entity ids a process start carries (`process.ancestry`, nearest first; src/tree/ancestry.ts). */
const ANCESTRY = "JSONExtract(raw, 'process', 'ancestry', 'Array(String)')";

/** Adds ancestor_ids to a process_lifecycle made before it (its rows read it from `raw`: empty before ancestry was recorded). */
const PROCESS_LIFECYCLE_ANCESTRY = `ALTER TABLE process_lifecycle ADD COLUMN IF NOT EXISTS ancestor_ids Array(String) DEFAULT ${ANCESTRY}`;

/** The lifecycle rows of the events already in telemetry_events (a store created before the table had none). */
export const PROCESS_LIFECYCLE_SELECT = `SELECT tenant_id, host_id, process_entity_id AS entity_id, process_parent_entity_id AS parent_entity_id,
      timestamp, event_id, event_type, ingested, raw, ${ANCESTRY} AS ancestor_ids
    FROM telemetry_events WHERE event_type IN (${LIFECYCLE_TYPES.map((t) => `'${t}'`).join(', ')}) AND process_entity_id != ''`;

function extractExpression(c: ExtractedColumn): string {
  const path = c.path.map((p) => `'${p}'`).join(', ');
  if (c.type === 'UInt32' || c.type === 'UInt16') return `JSONExtractUInt(raw, ${path})`;
  if (c.type === 'Array(String)') return `JSONExtract(raw, ${path}, 'Array(String)')`;
  return `JSONExtractString(raw, ${path})`;
}

/** Skip indexes added after the first release (also added to existing tables by eventStoreMigrations). */
const SKIP_INDEXES_ADDED = [
  'idx_sha256 process_hash_sha256 TYPE bloom_filter(0.01) GRANULARITY 4',
  'idx_dns_name dns_question_name TYPE bloom_filter(0.01) GRANULARITY 4',
];

/**
 * What brings a store made by an earlier version up to this DDL (idempotent; run after eventStoreDdl): the
 * extracted columns it lacks (filled from `raw` by their DEFAULT when old parts are read) and the skip indexes
 * added since (on new parts). `lifecycleView`: the current CREATE text of process_lifecycle_mv, if any; a view
 * that does not select every lifecycle type is replaced (see lifecycleViewMigration).
 */
export function eventStoreMigrations(lifecycleView: string | undefined): string[] {
  return [
    ...EXTRACTED_COLUMNS.map((c) => `ALTER TABLE telemetry_events ADD COLUMN IF NOT EXISTS ${c.name} ${c.type} DEFAULT ${extractExpression(c)}`),
    ...SKIP_INDEXES_ADDED.map((i) => `ALTER TABLE telemetry_events ADD INDEX IF NOT EXISTS ${i}`),
    ...lifecycleViewMigration(lifecycleView),
  ];
}

/** How far back lifecycle rows are copied again when the view is replaced (inserts while it did not exist). */
const LIFECYCLE_RECOPY_MINUTES = 10;

/**
 * process_lifecycle_mv made before a lifecycle type existed (process_hash, 2026-12-08) is dropped and made
 * again; the lifecycle rows of the last minutes are copied again, so that a batch stored in between is not
 * missing (a row copied twice has the same key: collapsed at read like any re-delivery).
 */
export function lifecycleViewMigration(lifecycleView: string | undefined): string[] {
  if (lifecycleView === undefined || LIFECYCLE_TYPES.every((t) => lifecycleView.includes(`'${t}'`))) return [];
  return [
    'DROP VIEW IF EXISTS process_lifecycle_mv',
    `CREATE MATERIALIZED VIEW IF NOT EXISTS process_lifecycle_mv TO process_lifecycle AS
    ${PROCESS_LIFECYCLE_SELECT}`,
    `INSERT INTO process_lifecycle ${PROCESS_LIFECYCLE_SELECT} AND ingested >= now() - INTERVAL ${LIFECYCLE_RECOPY_MINUTES} MINUTE`,
  ];
}

/**
 * Column codecs (issue 20, bench:storage): ZSTD instead of ClickHouse's default LZ4 for every column, the two times
 * as deltas, the event's JSON at ZSTD(6). On 1 million generated events (bench/support/generated-events.ts), merged:
 * telemetry_events 96.7 → 60.1 bytes per event (event ids 29 → 16, times 8.4 → 1.6, raw 45 → 37). A store made
 * before gets them through codecMigrations: new parts use them, old parts as they are merged.
 */
const ZSTD = 'CODEC(ZSTD(3))';
const TIME_CODECS = { timestamp: 'CODEC(DoubleDelta, ZSTD(3))', ingested: 'CODEC(Delta(8), ZSTD(3))', raw: 'CODEC(ZSTD(6))' };
const COLUMN_CODECS: Record<string, Record<string, string>> = {
  telemetry_events: { host_id: ZSTD, event_id: ZSTD, ...TIME_CODECS, ...Object.fromEntries(EXTRACTED_COLUMNS.map((c) => [c.name, ZSTD])) },
  process_lifecycle: { host_id: ZSTD, entity_id: ZSTD, parent_entity_id: ZSTD, event_id: ZSTD, ...TIME_CODECS },
};
const codec = (table: string, column: string) => COLUMN_CODECS[table][column];

/** The ALTERs that give the columns of `current` (system.columns: table, name, compression_codec) the codecs above. */
export function codecMigrations(current: { table: string; name: string; codec: string }[]): string[] {
  return current.filter((c) => COLUMN_CODECS[c.table]?.[c.name] !== undefined && c.codec !== COLUMN_CODECS[c.table][c.name])
    .map((c) => `ALTER TABLE ${c.table} MODIFY COLUMN ${c.name} ${COLUMN_CODECS[c.table][c.name]}`);
}

export function eventStoreDdl(o: DdlOptions): string[] {
  const mt = (kind: string) => `${o.engineSuffix ?? ''}${kind}`;
  return [
    `CREATE TABLE IF NOT EXISTS telemetry_events (
      tenant_id LowCardinality(String),
      host_id String ${codec('telemetry_events', 'host_id')},
      timestamp DateTime64(3, 'UTC') ${codec('telemetry_events', 'timestamp')},
      event_id String ${codec('telemetry_events', 'event_id')},
      event_type LowCardinality(String),
      ingested DateTime64(3, 'UTC') ${codec('telemetry_events', 'ingested')},
      raw String ${codec('telemetry_events', 'raw')},
      ${EXTRACTED_COLUMNS.map((c) => `${c.name} ${c.type} DEFAULT ${extractExpression(c)} ${codec('telemetry_events', c.name)}`).join(',\n      ')},
      INDEX idx_command_line process_command_line TYPE ngrambf_v1(3, 8192, 2, 0) GRANULARITY 4,
      INDEX idx_file_path file_path TYPE ngrambf_v1(3, 8192, 2, 0) GRANULARITY 4,
      INDEX idx_executable process_executable TYPE bloom_filter(0.01) GRANULARITY 4,
      INDEX idx_hostname hostname TYPE bloom_filter(0.01) GRANULARITY 4,
      INDEX idx_entity process_entity_id TYPE bloom_filter(0.01) GRANULARITY 4,
      INDEX idx_parent_entity process_parent_entity_id TYPE bloom_filter(0.01) GRANULARITY 4,
      ${SKIP_INDEXES_ADDED.map((i) => `INDEX ${i}`).join(',\n      ')}
    ) ENGINE = ${mt('ReplacingMergeTree')}(ingested)
    PARTITION BY toYYYYMM(timestamp)
    ORDER BY (tenant_id, host_id, timestamp, event_id)
    TTL toDateTime(timestamp) + INTERVAL ${Math.trunc(o.retentionDays)} DAY
    SETTINGS ${DURABLE_INSERTS}`,
    `CREATE TABLE IF NOT EXISTS events_hourly (
      tenant_id LowCardinality(String),
      host_id String,
      hour DateTime('UTC'),
      event_type LowCardinality(String),
      events UInt64
    ) ENGINE = ${mt('SummingMergeTree')}
    PARTITION BY toYYYYMM(hour)
    ORDER BY (tenant_id, host_id, hour, event_type)
    TTL hour + INTERVAL ${Math.trunc(o.retentionDays)} DAY`,
    `CREATE MATERIALIZED VIEW IF NOT EXISTS events_hourly_mv TO events_hourly AS
      SELECT tenant_id, host_id, toStartOfHour(timestamp) AS hour, event_type, count() AS events
      FROM telemetry_events GROUP BY tenant_id, host_id, hour, event_type`,
    `CREATE TABLE IF NOT EXISTS process_nodes (
      tenant_id LowCardinality(String),
      host_id String,
      entity_id String,
      pid UInt32,
      ppid UInt32,
      parent_entity_id String,
      exe String,
      cmdline String,
      start_ts DateTime64(3, 'UTC'),
      exit_ts Nullable(DateTime64(3, 'UTC')),
      exit_code Nullable(Int32),
      uid UInt32,
      gid UInt32,
      user_name String,
      sha256 String,
      mitre Array(String),
      gtfobins Array(String),
      ver UInt8
    ) ENGINE = ${mt('ReplacingMergeTree')}(ver)
    PARTITION BY toYYYYMM(start_ts)
    ORDER BY (tenant_id, host_id, pid, start_ts)
    TTL toDateTime(start_ts) + INTERVAL ${Math.trunc(o.retentionDays)} DAY
    SETTINGS ${DURABLE_INSERTS}`,
    // Small granules: a lookup reads ~1,000 rows of one entity's neighbourhood, not 8,192.
    `CREATE TABLE IF NOT EXISTS process_lifecycle (
      tenant_id LowCardinality(String),
      host_id String ${codec('process_lifecycle', 'host_id')},
      entity_id String ${codec('process_lifecycle', 'entity_id')},
      parent_entity_id String ${codec('process_lifecycle', 'parent_entity_id')},
      timestamp DateTime64(3, 'UTC') ${codec('process_lifecycle', 'timestamp')},
      event_id String ${codec('process_lifecycle', 'event_id')},
      event_type LowCardinality(String),
      ingested DateTime64(3, 'UTC') ${codec('process_lifecycle', 'ingested')},
      raw String ${codec('process_lifecycle', 'raw')},
      ancestor_ids Array(String) DEFAULT ${ANCESTRY},
      INDEX idx_parent parent_entity_id TYPE bloom_filter(0.01) GRANULARITY 1
    ) ENGINE = ${mt('ReplacingMergeTree')}(ingested)
    PARTITION BY toYYYYMM(timestamp)
    ORDER BY (tenant_id, host_id, entity_id, timestamp, event_id)
    TTL toDateTime(timestamp) + INTERVAL ${Math.trunc(o.retentionDays)} DAY
    SETTINGS index_granularity = 1024, ${DURABLE_INSERTS}`,
    PROCESS_LIFECYCLE_ANCESTRY,
    `CREATE MATERIALIZED VIEW IF NOT EXISTS process_lifecycle_mv TO process_lifecycle AS
    ${PROCESS_LIFECYCLE_SELECT}`,
  ];
}
