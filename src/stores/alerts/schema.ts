// The alert store's schema on SQLite and PostgreSQL: numbered migrations (recorded in alert_schema_migrations,
// applied through the shared SQL layer; PostgreSQL under MIGRATION_LOCK). Migrations 1–3 are each engine's as
// released (PostgreSQL: JSONB documents, COLLATE "C" on the columns that sort); migration 4 is written once:
//   - alert_groups gains the host: one row per (grouping, key, host, status, level), so a grouped list or a total
//     filtered by host reads the summary too;
//   - alert_fields (tenant, alert, field, value): the users, file paths, image hashes and MITRE techniques of each
//     alert (alertFields), written in the alert's transaction, so the user, file and hash filters and the MITRE
//     counts read an index instead of every document; backfilled from the stored documents.

import type { Migration, SqlDialect, SqlQuerier } from '../sql/sql-db.ts';
import { alertFields, insertFields } from './fields.ts';
import type { GroupBy } from './types.ts';

export const MIGRATIONS_TABLE = 'alert_schema_migrations';
export const MIGRATION_LOCK = 0x76616c74; // 'valt': the advisory lock key of alert migrations

/** The column a grouping groups by. */
export const GROUP_COLUMN: Record<GroupBy, string> = { rule: 'rule_id', host: 'host_id', process: 'process_entity_id' };

/**
 * alert_groups rows of the alerts `where` selects: per tenant, grouping (kind), key, host, status and level, how
 * many alerts, their occurrences and time span. Kept in the transaction of every change (writes add, triage
 * recomputes the keys it touched).
 */
export const GROUP_SUMMARY_INSERT = (kind: GroupBy, where = '') => `INSERT INTO alert_groups
  (tenant_id, kind, key, host_id, status, level, n, occ, first_seen, last_seen)
  SELECT tenant_id, '${kind}', ${GROUP_COLUMN[kind]}, host_id, status, level, COUNT(*), SUM(occurrences), MIN(first_seen), MAX(last_seen)
  FROM alerts ${where} GROUP BY tenant_id, ${GROUP_COLUMN[kind]}, host_id, status, level`;

/** Migration 3's fill of alert_groups, as released (without the host). */
const V3_GROUP_SUMMARY = (['rule', 'host', 'process'] as const).map((kind) => `INSERT INTO alert_groups
  (tenant_id, kind, key, status, level, n, occ, first_seen, last_seen)
  SELECT tenant_id, '${kind}', ${GROUP_COLUMN[kind]}, status, level, COUNT(*), SUM(occurrences), MIN(first_seen), MAX(last_seen)
  FROM alerts GROUP BY tenant_id, ${GROUP_COLUMN[kind]}, status, level`);

const SQLITE_V1_V3: Migration[] = [[
  `CREATE TABLE alerts (
    tenant_id TEXT NOT NULL, id TEXT NOT NULL, host_id TEXT NOT NULL, rule_id TEXT NOT NULL, level TEXT NOT NULL,
    status TEXT NOT NULL, assignee TEXT, close_reason TEXT, suppressed_until TEXT,
    first_seen TEXT NOT NULL, last_seen TEXT NOT NULL, doc TEXT NOT NULL, updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id))`,
  'CREATE INDEX alerts_by_time ON alerts (tenant_id, last_seen DESC, id DESC)',
  'CREATE INDEX alerts_by_rule ON alerts (tenant_id, rule_id)',
  `CREATE TABLE alert_comments (
    tenant_id TEXT NOT NULL, alert_id TEXT NOT NULL, author TEXT NOT NULL, text TEXT NOT NULL, at TEXT NOT NULL)`,
  'CREATE INDEX alert_comments_by_alert ON alert_comments (tenant_id, alert_id)',
  `CREATE TABLE alert_suppressions (
    tenant_id TEXT NOT NULL, rule_id TEXT NOT NULL, host_id TEXT NOT NULL, until TEXT NOT NULL, reason TEXT NOT NULL,
    created_by TEXT NOT NULL, created_at TEXT NOT NULL)`,
  'CREATE INDEX alert_suppressions_by_rule ON alert_suppressions (tenant_id, rule_id, host_id)',
], [
  // Issue 18: columns for the process filter, groups and dispositions; indexes for 100,000 alerts per tenant
  // (each filter's own keyset index, and one covering index that counts and groups without reading documents);
  // exceptions replace suppressions (each suppression becomes an exception of its rule on its host).
  "ALTER TABLE alerts ADD COLUMN process_entity_id TEXT NOT NULL DEFAULT ''",
  'ALTER TABLE alerts ADD COLUMN occurrences INTEGER NOT NULL DEFAULT 1',
  'ALTER TABLE alerts ADD COLUMN disposition TEXT',
  'ALTER TABLE alerts ADD COLUMN exception_id TEXT',
  `UPDATE alerts SET process_entity_id = COALESCE(json_extract(doc, '$.process_entity_id'), ''),
    occurrences = COALESCE(json_extract(doc, '$.occurrences'), 1)`,
  'DROP INDEX alerts_by_rule',
  'CREATE INDEX alerts_by_rule ON alerts (tenant_id, rule_id, last_seen DESC, id DESC)',
  'CREATE INDEX alerts_by_host ON alerts (tenant_id, host_id, last_seen DESC, id DESC)',
  'CREATE INDEX alerts_by_status ON alerts (tenant_id, status, last_seen DESC, id DESC)',
  'CREATE INDEX alerts_by_process ON alerts (tenant_id, process_entity_id, last_seen DESC, id DESC)',
  `CREATE INDEX alerts_facets ON alerts (tenant_id, last_seen, rule_id, host_id, process_entity_id, level, status, occurrences,
    first_seen, disposition, assignee, id)`,
  `CREATE TABLE alert_exceptions (
    tenant_id TEXT NOT NULL, id TEXT NOT NULL, rule_id TEXT NOT NULL, conditions TEXT NOT NULL, scope TEXT NOT NULL,
    reason TEXT NOT NULL, expires_at TEXT, source_alert_id TEXT, created_by TEXT NOT NULL, created_at TEXT NOT NULL,
    updated_by TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (tenant_id, id))`,
  'CREATE INDEX alert_exceptions_by_rule ON alert_exceptions (tenant_id, rule_id)',
  'CREATE INDEX alert_exceptions_by_time ON alert_exceptions (tenant_id, created_at DESC, id DESC)',
  `INSERT INTO alert_exceptions (tenant_id, id, rule_id, conditions, scope, reason, expires_at, source_alert_id, created_by, created_at, updated_by, updated_at)
    SELECT tenant_id, 'exc_' || lower(hex(randomblob(12))), rule_id, '[]', json_object('host_ids', json_array(host_id)), reason, until, NULL,
      created_by, created_at, created_by, created_at FROM alert_suppressions`,
  `UPDATE alerts SET status = 'excepted', exception_id = (SELECT e.id FROM alert_exceptions e WHERE e.tenant_id = alerts.tenant_id
      AND e.rule_id = alerts.rule_id AND e.expires_at = alerts.suppressed_until AND e.scope = json_object('host_ids', json_array(alerts.host_id))
      ORDER BY e.created_at DESC LIMIT 1)
    WHERE status = 'suppressed'`,
  'DROP TABLE alert_suppressions',
], [
  // Issue 18 benchmark: the group summary (GROUP_SUMMARY_INSERT), filled from the alerts already stored.
  `CREATE TABLE alert_groups (
    tenant_id TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL, status TEXT NOT NULL, level TEXT NOT NULL,
    n INTEGER NOT NULL, occ INTEGER NOT NULL, first_seen TEXT NOT NULL, last_seen TEXT NOT NULL,
    PRIMARY KEY (tenant_id, kind, key, status, level))`,
  'CREATE INDEX alert_groups_by_time ON alert_groups (tenant_id, kind, last_seen DESC, key DESC)',
  ...V3_GROUP_SUMMARY,
]];

const POSTGRES_V1_V3: Migration[] = [[
  `CREATE TABLE alerts (
    tenant_id TEXT NOT NULL, id TEXT COLLATE "C" NOT NULL, host_id TEXT NOT NULL, rule_id TEXT NOT NULL, level TEXT NOT NULL,
    status TEXT NOT NULL, assignee TEXT, close_reason TEXT, suppressed_until TEXT,
    first_seen TEXT COLLATE "C" NOT NULL, last_seen TEXT COLLATE "C" NOT NULL, doc JSONB NOT NULL, updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id))`,
  'CREATE INDEX alerts_by_time ON alerts (tenant_id, last_seen DESC, id DESC)',
  'CREATE INDEX alerts_by_rule ON alerts (tenant_id, rule_id)',
  `CREATE TABLE alert_comments (
    seq BIGSERIAL PRIMARY KEY, tenant_id TEXT NOT NULL, alert_id TEXT NOT NULL, author TEXT NOT NULL, text TEXT NOT NULL, at TEXT NOT NULL)`,
  'CREATE INDEX alert_comments_by_alert ON alert_comments (tenant_id, alert_id)',
  `CREATE TABLE alert_suppressions (
    tenant_id TEXT NOT NULL, rule_id TEXT NOT NULL, host_id TEXT NOT NULL, until TEXT COLLATE "C" NOT NULL, reason TEXT NOT NULL,
    created_by TEXT NOT NULL, created_at TEXT NOT NULL)`,
  'CREATE INDEX alert_suppressions_by_rule ON alert_suppressions (tenant_id, rule_id, host_id)',
], [
  // Issue 18 (as the SQLite store's migration 2): process, occurrence and disposition columns, per-filter keyset
  // indexes and a covering one for counts and groups; exceptions replace suppressions.
  `ALTER TABLE alerts ADD COLUMN process_entity_id TEXT COLLATE "C" NOT NULL DEFAULT ''`,
  'ALTER TABLE alerts ADD COLUMN occurrences INTEGER NOT NULL DEFAULT 1',
  'ALTER TABLE alerts ADD COLUMN disposition TEXT',
  'ALTER TABLE alerts ADD COLUMN exception_id TEXT',
  `UPDATE alerts SET process_entity_id = COALESCE(doc->>'process_entity_id', ''), occurrences = COALESCE((doc->>'occurrences')::int, 1)
    WHERE doc ? 'process_entity_id' OR doc ? 'occurrences'`,
  'DROP INDEX alerts_by_rule',
  'CREATE INDEX alerts_by_rule ON alerts (tenant_id, rule_id COLLATE "C", last_seen DESC, id DESC)',
  'CREATE INDEX alerts_by_host ON alerts (tenant_id, host_id COLLATE "C", last_seen DESC, id DESC)',
  'CREATE INDEX alerts_by_status ON alerts (tenant_id, status, last_seen DESC, id DESC)',
  'CREATE INDEX alerts_by_process ON alerts (tenant_id, process_entity_id, last_seen DESC, id DESC)',
  `CREATE INDEX alerts_facets ON alerts (tenant_id, last_seen)
    INCLUDE (rule_id, host_id, process_entity_id, level, status, occurrences, first_seen, disposition, assignee, id)`,
  `CREATE TABLE alert_exceptions (
    tenant_id TEXT NOT NULL, id TEXT COLLATE "C" NOT NULL, rule_id TEXT NOT NULL, conditions JSONB NOT NULL, scope JSONB NOT NULL,
    reason TEXT NOT NULL, expires_at TEXT COLLATE "C", source_alert_id TEXT, created_by TEXT NOT NULL, created_at TEXT COLLATE "C" NOT NULL,
    updated_by TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (tenant_id, id))`,
  'CREATE INDEX alert_exceptions_by_rule ON alert_exceptions (tenant_id, rule_id)',
  'CREATE INDEX alert_exceptions_by_time ON alert_exceptions (tenant_id, created_at DESC, id DESC)',
  `INSERT INTO alert_exceptions (tenant_id, id, rule_id, conditions, scope, reason, expires_at, source_alert_id, created_by, created_at, updated_by, updated_at)
    SELECT tenant_id, 'exc_' || substr(md5(random()::text || clock_timestamp()::text || rule_id || host_id || until), 1, 24), rule_id, '[]'::jsonb,
      jsonb_build_object('host_ids', jsonb_build_array(host_id)), reason, until, NULL, created_by, created_at, created_by, created_at
    FROM alert_suppressions`,
  `UPDATE alerts SET status = 'excepted', exception_id = (SELECT e.id FROM alert_exceptions e WHERE e.tenant_id = alerts.tenant_id
      AND e.rule_id = alerts.rule_id AND e.expires_at = alerts.suppressed_until AND e.scope = jsonb_build_object('host_ids', jsonb_build_array(alerts.host_id))
      ORDER BY e.created_at DESC LIMIT 1)
    WHERE status = 'suppressed'`,
  'DROP TABLE alert_suppressions',
], [
  // Issue 18 benchmark: the group summary (as the SQLite store's migration 3), filled from the alerts already stored.
  `CREATE TABLE alert_groups (
    tenant_id TEXT NOT NULL, kind TEXT NOT NULL, key TEXT COLLATE "C" NOT NULL, status TEXT NOT NULL, level TEXT NOT NULL,
    n INTEGER NOT NULL, occ BIGINT NOT NULL, first_seen TEXT COLLATE "C" NOT NULL, last_seen TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant_id, kind, key, status, level))`,
  'CREATE INDEX alert_groups_by_time ON alert_groups (tenant_id, kind, last_seen DESC, key DESC)',
  ...V3_GROUP_SUMMARY,
]];

/** Documents read per step of the alert_fields backfill. */
const BACKFILL_PAGE = 1000;

/** Fills alert_fields from every stored alert's document, in pages by (tenant, id). */
async function backfillFields(q: SqlQuerier): Promise<void> {
  let after: [string, string] = ['', ''];
  for (;;) {
    const rows = await q.all(`SELECT tenant_id, id, doc FROM alerts WHERE tenant_id > ? OR (tenant_id = ? AND id > ?)
      ORDER BY tenant_id, id LIMIT ?`, [after[0], after[0], after[1], BACKFILL_PAGE]);
    await insertFields(q, rows.flatMap((r) => alertFields(String(r.tenant_id), String(r.id), typeof r.doc === 'string' ? JSON.parse(r.doc) : r.doc)));
    if (rows.length < BACKFILL_PAGE) return;
    const last = rows[rows.length - 1];
    after = [String(last.tenant_id), String(last.id)];
  }
}

/** Migration 4 (issue 18): alert_groups by host, alert_fields; `c` is the dialect's bytewise collation. */
function hostsAndFields(c: string): Migration {
  return [
    'DROP TABLE alert_groups',
    `CREATE TABLE alert_groups (
      tenant_id TEXT NOT NULL, kind TEXT NOT NULL, key TEXT${c} NOT NULL, host_id TEXT${c} NOT NULL, status TEXT NOT NULL, level TEXT NOT NULL,
      n INTEGER NOT NULL, occ BIGINT NOT NULL, first_seen TEXT${c} NOT NULL, last_seen TEXT${c} NOT NULL,
      PRIMARY KEY (tenant_id, kind, key, host_id, status, level))`,
    'CREATE INDEX alert_groups_by_time ON alert_groups (tenant_id, kind, last_seen DESC, key DESC)',
    'CREATE INDEX alert_groups_by_host ON alert_groups (tenant_id, kind, host_id, last_seen DESC, key DESC)',
    GROUP_SUMMARY_INSERT('rule'), GROUP_SUMMARY_INSERT('host'), GROUP_SUMMARY_INSERT('process'),
    `CREATE TABLE alert_fields (
      tenant_id TEXT NOT NULL, field TEXT NOT NULL, value TEXT${c} NOT NULL, alert_id TEXT${c} NOT NULL,
      PRIMARY KEY (tenant_id, field, value, alert_id))`,
    backfillFields,
  ];
}

export const SQLITE_MIGRATIONS: readonly Migration[] = [...SQLITE_V1_V3, hostsAndFields('')];
export const POSTGRES_MIGRATIONS: readonly Migration[] = [...POSTGRES_V1_V3, hostsAndFields(' COLLATE "C"')];

/** The migrations of a dialect. */
export const migrationsOf = (d: SqlDialect): readonly Migration[] => (d.engine === 'postgres' ? POSTGRES_MIGRATIONS : SQLITE_MIGRATIONS);
