// The alert store on SQLite (node:sqlite), the embedded server's: one row per alert with its full document
// as JSON beside the columns that filters, groups and triage use; comments and exceptions in their own tables.
// A repeat of a stored alert (same id: the same rule on the same process within the window) is merged into it.
// A new alert that an active exception of its tenant and rule matches is stored `excepted`. Parameterised
// statements only.

import { randomBytes } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import { migrateSqlite } from '../sqlite-migrations.ts';
import { mergeRepeat, type Alert } from '../../detect/alerts.ts';
import { matchingException, type AlertException } from '../../detect/exceptions.ts';
import {
  ALERT_STATUSES, MAX_BULK, MAX_EXCEPTIONS, SEVERITY_ORDER, TooManyExceptionsError, bucketTime,
  type AlertComment, type AlertCounts, type AlertFilter, type AlertGroup, type AlertQuery, type AlertStatus, type AlertStore,
  type BulkAction, type BulkResult, type Disposition, type ExceptionInput, type ExceptionPatch, type ExceptionQuery, type GroupBy,
  type LevelBucket, type StoredAlert, type TriageAction,
} from './types.ts';

/** The column a grouping groups by. */
export const GROUP_COLUMN: Record<GroupBy, string> = { rule: 'rule_id', host: 'host_id', process: 'process_entity_id' };

/**
 * alert_groups: per tenant, grouping (kind), key, status and level, how many alerts, their occurrences and time
 * span. Kept in the transaction of every change (writes add, triage recomputes the keys it touched), so a list
 * grouped by rule, host or process and the total, filtered by nothing but status and severity, read a few rows
 * instead of aggregating every alert of the tenant.
 */
export const GROUP_SUMMARY_INSERT = (kind: GroupBy, where = '') => `INSERT INTO alert_groups
  (tenant_id, kind, key, status, level, n, occ, first_seen, last_seen)
  SELECT tenant_id, '${kind}', ${GROUP_COLUMN[kind]}, status, level, COUNT(*), SUM(occurrences), MIN(first_seen), MAX(last_seen)
  FROM alerts ${where} GROUP BY tenant_id, ${GROUP_COLUMN[kind]}, status, level`;

export const MIGRATIONS: string[][] = [[
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
  GROUP_SUMMARY_INSERT('rule'), GROUP_SUMMARY_INSERT('host'), GROUP_SUMMARY_INSERT('process'),
]];

/** Weight of an alert's level in a host's risk score. */
export const LEVEL_RISK: Record<string, number> = { informational: 0, low: 1, medium: 3, high: 7, critical: 10 };

const COLUMNS = 'id, doc, status, assignee, close_reason, disposition, exception_id, updated_at, last_seen';
/** The start of a term over the alert's kept events (`e.value`), closed by the caller. */
const ANY_EVENT = "EXISTS (SELECT 1 FROM json_each(doc, '$.events') e WHERE ";

interface Row {
  doc: string; status: string; assignee: string | null; close_reason: string | null; disposition: string | null;
  exception_id: string | null; updated_at: string; id: string; last_seen: string;
}

export function encodeCursor(lastSeen: string, id: string): string {
  return Buffer.from(JSON.stringify([lastSeen, id])).toString('base64url');
}

export function decodeCursor(c: string): [string, string] {
  try {
    const v = JSON.parse(Buffer.from(c, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'string')) return v as [string, string];
  } catch { /* reported below */ }
  throw new Error('invalid cursor');
}

/** A group list's cursor: its grouping, then the last group's last_seen and key. */
export function encodeGroupCursor(by: GroupBy, lastSeen: string, key: string): string {
  return Buffer.from(JSON.stringify([by, lastSeen, key])).toString('base64url');
}

export function decodeGroupCursor(c: string, by: GroupBy): [string, string] {
  try {
    const v = JSON.parse(Buffer.from(c, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'string') && v[0] === by) return [v[1], v[2]];
  } catch { /* reported below */ }
  throw new Error('invalid cursor');
}

/** `CASE level …` as the level's rank in SEVERITY_ORDER (0 for unknown levels). */
export const LEVEL_RANK_SQL = `CASE level ${SEVERITY_ORDER.map((l, i) => `WHEN '${l}' THEN ${i}`).join(' ')} ELSE 0 END`;
export const STATUS_COUNTS_SQL = ALERT_STATUSES.map((s) => `SUM(CASE WHEN status = '${s}' THEN 1 ELSE 0 END) AS n_${s}`).join(', ');
/** The same over alert_groups rows. */
export const SUMMARY_STATUS_COUNTS_SQL = ALERT_STATUSES.map((s) => `SUM(CASE WHEN status = '${s}' THEN n ELSE 0 END) AS n_${s}`).join(', ');

/** Whether alert_groups answers a filter: the tenant, statuses and severities, nothing else. */
export function summaryAnswers(f: AlertFilter): boolean {
  for (const [k, v] of Object.entries(f)) {
    if (v === undefined || k === 'tenantId' || k === 'statuses' || k === 'severities' || k === 'limit' || k === 'cursor') continue;
    if (k === 'dispositions' && Array.isArray(v) && v.length === 0) continue;
    return false;
  }
  return true;
}

/** One alert_groups row's change: alerts and occurrences added, the span widened. */
export interface GroupCell { tenant_id: string; kind: GroupBy; key: string; status: string; level: string; n: number; occ: number; first_seen: string; last_seen: string }

/** Changes to alert_groups, one per row, applied at the end of a write (sorted, so concurrent writers lock rows in one order). */
export class GroupCells {
  private readonly cells = new Map<string, GroupCell>();

  add(a: { tenant_id: string; rule_id: string; host_id: string; process_entity_id: string; status: string; level: string },
    n: number, occ: number, firstSeen: string, lastSeen: string): void {
    for (const kind of ['rule', 'host', 'process'] as const) {
      const key = kind === 'rule' ? a.rule_id : kind === 'host' ? a.host_id : a.process_entity_id;
      const id = JSON.stringify([a.tenant_id, kind, key, a.status, a.level]);
      const c = this.cells.get(id);
      if (!c) { this.cells.set(id, { tenant_id: a.tenant_id, kind, key, status: a.status, level: a.level, n, occ, first_seen: firstSeen, last_seen: lastSeen }); continue; }
      c.n += n; c.occ += occ;
      if (firstSeen < c.first_seen) c.first_seen = firstSeen;
      if (lastSeen > c.last_seen) c.last_seen = lastSeen;
    }
  }

  sorted(): GroupCell[] {
    return [...this.cells.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, c]) => c);
  }
}

/**
 * The first `limit + 1` keys of a grouped list, in its order (latest last_seen first, then key descending), read
 * from alert_groups rows in (last_seen, key) descending order: a key first met there is met at its latest row, so
 * keys come in the groups' order. Past a cursor, a key whose latest row is before the cursor is on an earlier page
 * (`above` names those). Rows come in chunks (`rows(after, n)`: the next n rows strictly after `after`).
 */
export async function walkGroupKeys(limit: number, cursor: [string, string] | undefined,
  rows: (after: [string, string] | undefined, n: number) => Promise<{ key: string; last_seen: string }[]>,
  above: (keys: string[]) => Promise<Set<string>>): Promise<string[]> {
  const seen = new Set<string>();
  const out: string[] = [];
  const n = Math.max(64, (limit + 1) * 4);
  let after = cursor;
  for (;;) {
    const chunk = await rows(after, n);
    const fresh: string[] = [];
    for (const r of chunk) if (!seen.has(r.key)) { seen.add(r.key); fresh.push(r.key); }
    const earlier = cursor && fresh.length ? await above(fresh) : new Set<string>();
    for (const k of fresh) {
      if (earlier.has(k)) continue;
      out.push(k);
      if (out.length > limit) return out;
    }
    if (chunk.length < n) return out;
    after = [chunk[n - 1].last_seen, chunk[n - 1].key];
  }
}

export interface GroupRow {
  key: string; n: number | string; occ: number | string; rank: number | string; first_seen: string; last_seen: string;
  [status: `n_${string}`]: number | string;
}

export function groupOf(r: GroupRow): AlertGroup {
  return {
    key: r.key, label: null, count: Number(r.n), occurrences: Number(r.occ), max_severity: SEVERITY_ORDER[Number(r.rank)] ?? 'informational',
    first_seen: r.first_seen, last_seen: r.last_seen,
    statuses: Object.fromEntries(ALERT_STATUSES.map((s) => [s, Number(r[`n_${s}`] ?? 0)])) as Record<AlertStatus, number>,
  };
}

/** The label of a process group from its latest alert's document. */
export function processLabel(doc: Alert | undefined): string | null {
  const p = doc?.process as { command_line?: string; executable?: string } | undefined;
  const e = (doc?.events[0] as { process?: { command_line?: string; executable?: string } } | undefined)?.process;
  return p?.command_line || e?.command_line || p?.executable || e?.executable || null;
}

export const newExceptionId = () => `exc_${randomBytes(12).toString('hex')}`;

interface ExceptionRow {
  tenant_id: string; id: string; rule_id: string; conditions: string; scope: string; reason: string; expires_at: string | null;
  source_alert_id: string | null; created_by: string; created_at: string; updated_by: string; updated_at: string;
}

function exceptionOf(r: ExceptionRow): AlertException {
  return { ...r, conditions: JSON.parse(r.conditions), scope: JSON.parse(r.scope) };
}

export class SqliteAlertStore implements AlertStore {
  private readonly db: DatabaseSync;

  constructor(path: string) {
    this.db = new DatabaseSync(path);
    this.db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000');
  }

  async migrate(): Promise<void> {
    migrateSqlite(this.db, 'alert_schema_migrations', MIGRATIONS);
  }

  async write(alerts: Alert[]): Promise<StoredAlert[]> {
    const insert = this.db.prepare(`INSERT OR IGNORE INTO alerts
      (tenant_id, id, host_id, rule_id, level, status, exception_id, first_seen, last_seen, doc, updated_at, process_entity_id, occurrences)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    const now = new Date();
    const nowText = now.toISOString();
    const exceptions = new Map<string, AlertException[]>();
    const stored: StoredAlert[] = [];
    const cells = new GroupCells();
    this.db.exec('BEGIN IMMEDIATE');
    try {
      for (const a of alerts) {
        const pair = JSON.stringify([a.tenant_id, a.rule.id]);
        if (!exceptions.has(pair)) exceptions.set(pair, this.activeExceptions(a.tenant_id, a.rule.id, nowText));
        const exception = matchingException(exceptions.get(pair)!, a, now);
        const status: AlertStatus = exception ? 'excepted' : 'open';
        const exceptionId = exception?.id ?? null;
        const r = insert.run(a.tenant_id, a.id, a.host_id ?? '', a.rule.id, a.rule.level, status, exceptionId, a.first_seen, a.last_seen,
          JSON.stringify(a), nowText, a.process_entity_id ?? '', a.occurrences ?? 1);
        if (Number(r.changes) === 1) {
          stored.push({ ...a, status, assignee: null, close_reason: null, disposition: null, exception_id: exceptionId, comments: [], updated_at: nowText });
          cells.add({ tenant_id: a.tenant_id, rule_id: a.rule.id, host_id: a.host_id ?? '', process_entity_id: a.process_entity_id ?? '', status, level: a.rule.level },
            1, a.occurrences ?? 1, a.first_seen, a.last_seen);
        } else this.mergeRepeat(a, nowText, cells);
      }
      const upsert = this.db.prepare(`INSERT INTO alert_groups (tenant_id, kind, key, status, level, n, occ, first_seen, last_seen)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, kind, key, status, level) DO UPDATE SET n = n + excluded.n,
        occ = occ + excluded.occ, first_seen = min(first_seen, excluded.first_seen), last_seen = max(last_seen, excluded.last_seen)`);
      for (const c of cells.sorted()) upsert.run(c.tenant_id, c.kind, c.key, c.status, c.level, c.n, c.occ, c.first_seen, c.last_seen);
      this.db.exec('COMMIT');
    } catch (err) {
      this.db.exec('ROLLBACK');
      throw err;
    }
    return stored;
  }

  /** A repeat of a stored alert (same id) widens it and counts one more occurrence; a re-delivery changes nothing. */
  private mergeRepeat(repeat: Alert, now: string, cells: GroupCells): void {
    const row = this.db.prepare(`SELECT doc, tenant_id, rule_id, host_id, process_entity_id, status, level, occurrences FROM alerts
      WHERE tenant_id = ? AND id = ?`).get(repeat.tenant_id, repeat.id) as
      { doc: string; tenant_id: string; rule_id: string; host_id: string; process_entity_id: string; status: string; level: string; occurrences: number } | undefined;
    const merged = row && mergeRepeat(JSON.parse(row.doc) as Alert, repeat);
    if (!merged) return;
    cells.add(row, 0, (merged.occurrences ?? 1) - Number(row.occurrences), merged.first_seen, merged.last_seen);
    this.db.prepare('UPDATE alerts SET first_seen = ?, last_seen = ?, doc = ?, occurrences = ?, updated_at = ? WHERE tenant_id = ? AND id = ?')
      .run(merged.first_seen, merged.last_seen, JSON.stringify(merged), merged.occurrences ?? 1, now, repeat.tenant_id, repeat.id);
  }

  private activeExceptions(tenantId: string, ruleId: string, now: string): AlertException[] {
    return (this.db.prepare(`SELECT * FROM alert_exceptions WHERE tenant_id = ? AND rule_id = ? AND (expires_at IS NULL OR expires_at > ?)
      ORDER BY created_at, id`).all(tenantId, ruleId, now) as unknown as ExceptionRow[]).map(exceptionOf);
  }

  /** WHERE terms and parameters of a filter. */
  private where(f: AlertFilter): { where: string[]; params: (string | number)[] } {
    const where = ['tenant_id = ?'];
    const params: (string | number)[] = [f.tenantId];
    const anyOf = (column: string, values: readonly string[] | undefined) => {
      if (values === undefined) return;
      where.push(values.length ? `${column} IN (${values.map(() => '?').join(', ')})` : '0');
      params.push(...values);
    };
    if (f.severities?.length) anyOf('level', f.severities);
    if (f.statuses?.length) anyOf('status', f.statuses);
    if (f.dispositions?.length) anyOf('disposition', f.dispositions);
    if (f.hostId) { where.push('host_id = ?'); params.push(f.hostId); }
    anyOf('host_id', f.hostIds);
    if (f.ruleId) { where.push('rule_id = ?'); params.push(f.ruleId); }
    if (f.processEntityId) { where.push('process_entity_id = ?'); params.push(f.processEntityId); }
    // Not indexed: read from the document (its ≤ MAX_KEPT_EVENTS events), after the indexed terms narrow the rows.
    // The document is JSON.stringify's text, so the value's escaped text is in it: a plain substring test skips
    // parsing the documents that cannot match.
    const inDoc = (v: string) => { where.push('instr(doc, ?) > 0'); params.push(JSON.stringify(v).slice(1, -1)); };
    if (f.userName) {
      inDoc(f.userName);
      where.push(`(json_extract(doc, '$.process.user_name') = ? OR ${ANY_EVENT}json_extract(e.value, '$.user.name') = ?))`);
      params.push(f.userName, f.userName);
    }
    if (f.filePath) {
      inDoc(f.filePath);
      where.push(`${ANY_EVENT}instr(json_extract(e.value, '$.file.path'), ?) > 0)`);
      params.push(f.filePath);
    }
    if (f.sha256) {
      inDoc(f.sha256);
      where.push(`${ANY_EVENT}json_extract(e.value, '$.process.hash.sha256') = ?)`);
      params.push(f.sha256);
    }
    anyOf('id', f.ids);
    if (f.from) { where.push('last_seen >= ?'); params.push(f.from.toISOString()); }
    if (f.to) { where.push('last_seen < ?'); params.push(f.to.toISOString()); }
    return { where, params };
  }

  async list(q: AlertQuery): Promise<{ alerts: StoredAlert[]; next: string | null }> {
    const { where, params } = this.where(q);
    if (q.cursor) {
      const [lastSeen, id] = decodeCursor(q.cursor);
      where.push('(last_seen < ? OR (last_seen = ? AND id < ?))');
      params.push(lastSeen, lastSeen, id);
    }
    const rows = this.db.prepare(`SELECT ${COLUMNS} FROM alerts
      WHERE ${where.join(' AND ')} ORDER BY last_seen DESC, id DESC LIMIT ?`).all(...params, q.limit + 1) as unknown as Row[];
    const page = rows.slice(0, q.limit);
    const next = rows.length > q.limit ? encodeCursor(page.at(-1)!.last_seen, page.at(-1)!.id) : null;
    return { alerts: page.map((r) => this.view(q.tenantId, r)), next };
  }

  /** alert_groups rows of a filter that summaryAnswers (a grouping's rows). */
  private summaryWhere(f: AlertFilter, kind: GroupBy): { where: string[]; params: string[] } {
    const where = ['tenant_id = ?', 'kind = ?'];
    const params: string[] = [f.tenantId, kind];
    if (f.severities?.length) { where.push(`level IN (${f.severities.map(() => '?').join(', ')})`); params.push(...f.severities); }
    if (f.statuses?.length) { where.push(`status IN (${f.statuses.map(() => '?').join(', ')})`); params.push(...f.statuses); }
    return { where, params };
  }

  /** Recomputes the alert_groups rows of every key the alerts `ids` have (after their status changed); in the caller's transaction. */
  private refreshGroups(tenantId: string, ids: string[]): void {
    if (ids.length === 0) return;
    for (const kind of ['rule', 'host', 'process'] as const) {
      const keys = `SELECT DISTINCT ${GROUP_COLUMN[kind]} FROM alerts WHERE tenant_id = ? AND id IN (SELECT value FROM json_each(?))`;
      this.db.prepare(`DELETE FROM alert_groups WHERE tenant_id = ? AND kind = ? AND key IN (${keys})`).run(tenantId, kind, tenantId, JSON.stringify(ids));
      this.db.prepare(GROUP_SUMMARY_INSERT(kind, `WHERE tenant_id = ? AND ${GROUP_COLUMN[kind]} IN (${keys})`)).run(tenantId, tenantId, JSON.stringify(ids));
    }
  }

  async count(f: AlertFilter): Promise<number> {
    if (summaryAnswers(f)) {
      const { where, params } = this.summaryWhere(f, 'host'); // every alert is in one host row
      return Number((this.db.prepare(`SELECT COALESCE(SUM(n), 0) AS n FROM alert_groups WHERE ${where.join(' AND ')}`).get(...params) as { n: number }).n);
    }
    const { where, params } = this.where(f);
    return Number((this.db.prepare(`SELECT COUNT(*) AS n FROM alerts WHERE ${where.join(' AND ')}`).get(...params) as { n: number }).n);
  }

  /** A grouped page from alert_groups (summaryAnswers): the page's keys by walking rows in time order, then their sums. */
  private async summaryGroups(q: AlertQuery, by: GroupBy): Promise<{ rows: GroupRow[]; total: number }> {
    const { where, params } = this.summaryWhere(q, by);
    const cond = where.join(' AND ');
    const cursor = q.cursor ? decodeGroupCursor(q.cursor, by) : undefined;
    const keys = await walkGroupKeys(q.limit, cursor, async (after, n) => this.db.prepare(`SELECT key, last_seen FROM alert_groups WHERE ${cond}
      ${after ? 'AND (last_seen < ? OR (last_seen = ? AND key < ?))' : ''} ORDER BY last_seen DESC, key DESC LIMIT ?`)
      .all(...params, ...(after ? [after[0], after[0], after[1]] : []), n) as unknown as { key: string; last_seen: string }[],
    async (fresh) => new Set((this.db.prepare(`SELECT DISTINCT key FROM alert_groups WHERE ${cond} AND key IN (SELECT value FROM json_each(?))
      AND (last_seen > ? OR (last_seen = ? AND key >= ?))`).all(...params, JSON.stringify(fresh), cursor![0], cursor![0], cursor![1]) as { key: string }[])
      .map((r) => r.key)));
    const rows = keys.length === 0 ? [] : this.db.prepare(`SELECT key, SUM(n) AS n, SUM(occ) AS occ, MAX(${LEVEL_RANK_SQL}) AS rank,
      MIN(first_seen) AS first_seen, MAX(last_seen) AS last_seen, ${SUMMARY_STATUS_COUNTS_SQL} FROM alert_groups
      WHERE ${cond} AND key IN (SELECT value FROM json_each(?)) GROUP BY key ORDER BY MAX(last_seen) DESC, key DESC`)
      .all(...params, JSON.stringify(keys)) as unknown as GroupRow[];
    const total = Number((this.db.prepare(`SELECT COUNT(DISTINCT key) AS n FROM alert_groups WHERE ${cond}`).get(...params) as { n: number }).n);
    return { rows, total };
  }

  async groups(q: AlertQuery, by: GroupBy): Promise<{ groups: AlertGroup[]; next: string | null; total_groups: number }> {
    const column = GROUP_COLUMN[by];
    if (summaryAnswers(q)) {
      const { rows, total } = await this.summaryGroups(q, by);
      return this.groupPage(q, by, rows, total);
    }
    const { where, params } = this.where(q);
    const having: string[] = [];
    const havingParams: string[] = [];
    if (q.cursor) {
      const [lastSeen, key] = decodeGroupCursor(q.cursor, by);
      having.push(`HAVING (MAX(last_seen) < ? OR (MAX(last_seen) = ? AND ${column} < ?))`);
      havingParams.push(lastSeen, lastSeen, key);
    }
    const base = `FROM alerts WHERE ${where.join(' AND ')} GROUP BY ${column}`;
    const rows = this.db.prepare(`SELECT ${column} AS key, COUNT(*) AS n, SUM(occurrences) AS occ, MAX(${LEVEL_RANK_SQL}) AS rank,
      MIN(first_seen) AS first_seen, MAX(last_seen) AS last_seen, ${STATUS_COUNTS_SQL} ${base} ${having.join(' ')}
      ORDER BY MAX(last_seen) DESC, ${column} DESC LIMIT ?`).all(...params, ...havingParams, q.limit + 1) as unknown as GroupRow[];
    const total = Number((this.db.prepare(`SELECT COUNT(*) AS n FROM (SELECT 1 ${base})`).get(...params) as { n: number }).n);
    return this.groupPage(q, by, rows, total);
  }

  /** Groups of a page (limit + 1 rows) labelled, with the next cursor. */
  private groupPage(q: AlertQuery, by: GroupBy, rows: GroupRow[], total: number): { groups: AlertGroup[]; next: string | null; total_groups: number } {
    const column = GROUP_COLUMN[by];
    const page = rows.slice(0, q.limit).map(groupOf);
    const latest = this.db.prepare(`SELECT host_id, doc FROM alerts WHERE tenant_id = ? AND ${column} = ? ORDER BY last_seen DESC, id DESC LIMIT 1`);
    for (const g of page) {
      if (by === 'host' || g.key === '') continue;
      const r = latest.get(q.tenantId, g.key) as { host_id: string; doc: string } | undefined;
      const doc = r ? JSON.parse(r.doc) as Alert : undefined;
      if (by === 'rule') g.label = doc?.rule.title ?? null;
      else { g.label = processLabel(doc); g.host_id = r?.host_id; }
    }
    const last = page.at(-1);
    return { groups: page, next: rows.length > q.limit && last ? encodeGroupCursor(by, last.last_seen, last.key) : null, total_groups: total };
  }

  async get(tenantId: string, id: string): Promise<StoredAlert | undefined> {
    const row = this.db.prepare(`SELECT ${COLUMNS} FROM alerts WHERE tenant_id = ? AND id = ?`).get(tenantId, id) as unknown as Row | undefined;
    return row ? this.view(tenantId, row) : undefined;
  }

  private view(tenantId: string, r: Row): StoredAlert {
    const comments = this.db.prepare('SELECT author, text, at FROM alert_comments WHERE tenant_id = ? AND alert_id = ? ORDER BY at, rowid')
      .all(tenantId, r.id) as unknown as AlertComment[];
    return {
      ...(JSON.parse(r.doc) as Alert), status: r.status as AlertStatus, assignee: r.assignee, close_reason: r.close_reason,
      disposition: r.disposition as Disposition | null, exception_id: r.exception_id, comments, updated_at: r.updated_at,
    };
  }

  async triage(tenantId: string, id: string, actor: string, t: TriageAction): Promise<StoredAlert | undefined> {
    const alert = await this.get(tenantId, id);
    if (!alert) return undefined;
    const now = new Date().toISOString();
    const set = (sql: string, ...params: (string | null)[]) =>
      this.db.prepare(`UPDATE alerts SET ${sql}, updated_at = ? WHERE tenant_id = ? AND id = ?`).run(...params, now, tenantId, id);
    this.db.exec('BEGIN IMMEDIATE');
    try {
      switch (t.action) {
        case 'acknowledge': set("status = CASE WHEN status = 'open' THEN 'acknowledged' ELSE status END"); break;
        case 'assign': set('assignee = ?', t.assignee); break;
        case 'close': set("status = 'closed', close_reason = ?, disposition = ?", t.reason, t.disposition); break;
        case 'comment':
          this.db.prepare('INSERT INTO alert_comments (tenant_id, alert_id, author, text, at) VALUES (?, ?, ?, ?, ?)').run(tenantId, id, actor, t.text, now);
          set('status = status');
          break;
      }
      if (t.action === 'acknowledge' || t.action === 'close') this.refreshGroups(tenantId, [id]);
      this.db.exec('COMMIT');
    } catch (err) {
      this.db.exec('ROLLBACK');
      throw err;
    }
    return this.get(tenantId, id);
  }

  async bulkTriage(f: AlertFilter, _actor: string, t: BulkAction, max = MAX_BULK): Promise<BulkResult> {
    const { where, params } = this.where(f);
    let change: string; let changeParams: string[]; let assignments: string; let values: string[];
    switch (t.action) {
      case 'acknowledge': change = "status = 'open'"; changeParams = []; assignments = "status = 'acknowledged'"; values = []; break;
      case 'assign': change = 'assignee IS NOT ?'; changeParams = [t.assignee]; assignments = 'assignee = ?'; values = [t.assignee]; break;
      case 'close':
        change = "(status <> 'closed' OR disposition IS NOT ? OR close_reason IS NOT ?)"; changeParams = [t.disposition, t.reason];
        assignments = "status = 'closed', disposition = ?, close_reason = ?"; values = [t.disposition, t.reason]; break;
    }
    const now = new Date().toISOString();
    const selection = `WHERE ${[...where, change].join(' AND ')}`;
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const matched = Number((this.db.prepare(`SELECT COUNT(*) AS n FROM alerts WHERE ${where.join(' AND ')}`).get(...params) as { n: number }).n);
      const eligible = Number((this.db.prepare(`SELECT COUNT(*) AS n FROM alerts ${selection}`).get(...params, ...changeParams) as { n: number }).n);
      const changed = (this.db.prepare(`UPDATE alerts SET ${assignments}, updated_at = ? WHERE tenant_id = ? AND id IN
        (SELECT id FROM alerts ${selection} ORDER BY last_seen DESC, id DESC LIMIT ?) RETURNING id`)
        .all(...values, now, f.tenantId, ...params, ...changeParams, max) as { id: string }[]).map((r) => r.id);
      if (t.action !== 'assign') this.refreshGroups(f.tenantId, changed);
      this.db.exec('COMMIT');
      return { matched, changed, remaining: eligible - changed.length };
    } catch (err) {
      this.db.exec('ROLLBACK');
      throw err;
    }
  }

  async listExceptions(q: ExceptionQuery): Promise<{ exceptions: AlertException[]; next: string | null; total: number }> {
    const where = ['tenant_id = ?'];
    const params: string[] = [q.tenantId];
    if (q.ruleId !== undefined) { where.push('rule_id = ?'); params.push(q.ruleId); }
    if (q.active !== undefined) {
      where.push(q.active ? '(expires_at IS NULL OR expires_at > ?)' : '(expires_at IS NOT NULL AND expires_at <= ?)');
      params.push((q.now ?? new Date()).toISOString());
    }
    const total = Number((this.db.prepare(`SELECT COUNT(*) AS n FROM alert_exceptions WHERE ${where.join(' AND ')}`).get(...params) as { n: number }).n);
    if (q.cursor) {
      const [createdAt, id] = decodeCursor(q.cursor);
      where.push('(created_at < ? OR (created_at = ? AND id < ?))');
      params.push(createdAt, createdAt, id);
    }
    const rows = (this.db.prepare(`SELECT * FROM alert_exceptions WHERE ${where.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT ?`)
      .all(...params, q.limit + 1) as unknown as ExceptionRow[]).map(exceptionOf);
    const page = rows.slice(0, q.limit);
    const last = page.at(-1);
    return { exceptions: page, next: rows.length > q.limit && last ? encodeCursor(last.created_at, last.id) : null, total };
  }

  async getException(tenantId: string, id: string): Promise<AlertException | undefined> {
    const r = this.db.prepare('SELECT * FROM alert_exceptions WHERE tenant_id = ? AND id = ?').get(tenantId, id) as unknown as ExceptionRow | undefined;
    return r ? exceptionOf(r) : undefined;
  }

  async createException(tenantId: string, actor: string, e: ExceptionInput): Promise<AlertException> {
    const now = new Date().toISOString();
    const x: AlertException = {
      id: newExceptionId(), tenant_id: tenantId, rule_id: e.rule_id, conditions: e.conditions, scope: e.scope, reason: e.reason,
      expires_at: e.expires_at, source_alert_id: e.source_alert_id ?? null, created_by: actor, created_at: now, updated_by: actor, updated_at: now,
    };
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const n = Number((this.db.prepare('SELECT COUNT(*) AS n FROM alert_exceptions WHERE tenant_id = ?').get(tenantId) as { n: number }).n);
      if (n >= MAX_EXCEPTIONS) throw new TooManyExceptionsError(`a tenant has at most ${MAX_EXCEPTIONS} exceptions`);
      this.db.prepare(`INSERT INTO alert_exceptions (tenant_id, id, rule_id, conditions, scope, reason, expires_at, source_alert_id,
        created_by, created_at, updated_by, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(x.tenant_id, x.id, x.rule_id,
        JSON.stringify(x.conditions), JSON.stringify(x.scope), x.reason, x.expires_at, x.source_alert_id, actor, now, actor, now);
      this.db.exec('COMMIT');
    } catch (err) {
      this.db.exec('ROLLBACK');
      throw err;
    }
    return x;
  }

  async updateException(tenantId: string, id: string, actor: string, patch: ExceptionPatch): Promise<AlertException | undefined> {
    const before = await this.getException(tenantId, id);
    if (!before) return undefined;
    const after: AlertException = { ...before, ...patch, updated_by: actor, updated_at: new Date().toISOString() };
    this.db.prepare(`UPDATE alert_exceptions SET conditions = ?, scope = ?, reason = ?, expires_at = ?, updated_by = ?, updated_at = ?
      WHERE tenant_id = ? AND id = ?`).run(JSON.stringify(after.conditions), JSON.stringify(after.scope), after.reason, after.expires_at,
      after.updated_by, after.updated_at, tenantId, id);
    return after;
  }

  async deleteException(tenantId: string, id: string): Promise<AlertException | undefined> {
    const r = this.db.prepare('DELETE FROM alert_exceptions WHERE tenant_id = ? AND id = ? RETURNING *').get(tenantId, id) as unknown as ExceptionRow | undefined;
    return r ? exceptionOf(r) : undefined;
  }

  async counts(tenantId: string, since: Date): Promise<AlertCounts> {
    const s = since.toISOString();
    const bySeverity = Object.fromEntries((this.db.prepare('SELECT level, COUNT(*) AS n FROM alerts WHERE tenant_id = ? AND last_seen >= ? GROUP BY level')
      .all(tenantId, s) as { level: string; n: number }[]).map((r) => [r.level, Number(r.n)]));
    const topRules = (this.db.prepare(`SELECT rule_id AS id, json_extract(MAX(doc), '$.rule.title') AS title, COUNT(*) AS count FROM alerts
      WHERE tenant_id = ? AND last_seen >= ? GROUP BY rule_id ORDER BY count DESC, id LIMIT 10`).all(tenantId, s) as { id: string; title: string; count: number }[])
      .map((r) => ({ id: r.id, title: r.title, count: Number(r.count) }));
    const weights = Object.entries(LEVEL_RISK).map(([level, w]) => `WHEN '${level}' THEN ${w}`).join(' ');
    const topHosts = (this.db.prepare(`SELECT host_id AS id, COUNT(*) AS alerts, SUM(CASE level ${weights} ELSE 0 END) AS risk FROM alerts
      WHERE tenant_id = ? AND status IN ('open', 'acknowledged') AND host_id <> '' GROUP BY host_id ORDER BY risk DESC, id LIMIT 10`)
      .all(tenantId) as { id: string; alerts: number; risk: number }[]).map((r) => ({ id: r.id, alerts: Number(r.alerts), risk: Number(r.risk) }));
    return { bySeverity, topRules, topHosts };
  }

  async levelBuckets(tenantId: string, since: Date, bucketSeconds: number): Promise<LevelBucket[]> {
    const rows = this.db.prepare(`SELECT (CAST(strftime('%s', last_seen) AS INTEGER) / CAST(? AS INTEGER)) * CAST(? AS INTEGER) AS b, level, COUNT(*) AS n FROM alerts
      WHERE tenant_id = ? AND last_seen >= ? GROUP BY b, level ORDER BY b, level`).all(bucketSeconds, bucketSeconds, tenantId, since.toISOString()) as { b: number; level: string; n: number }[];
    return rows.map((r) => ({ t: bucketTime(r.b), level: r.level, count: Number(r.n) }));
  }

  async techniqueCounts(tenantId: string, statuses: AlertStatus[]) {
    const where = `a.tenant_id = ?${statuses.length ? ` AND a.status IN (${statuses.map(() => '?').join(', ')})` : ''}`;
    const alerts = this.db.prepare(`SELECT COUNT(*) AS n FROM alerts a WHERE ${where}`).get(tenantId, ...statuses) as { n: number };
    const rows = this.db.prepare(`SELECT json_extract(t.value, '$.id') AS id, COUNT(DISTINCT a.id) AS n FROM alerts a, json_each(a.doc, '$.mitre') t
      WHERE ${where} AND json_extract(t.value, '$.id') IS NOT NULL GROUP BY 1 ORDER BY n DESC, id`).all(tenantId, ...statuses) as { id: string; n: number }[];
    return { alerts: Number(alerts.n), techniques: rows.map((r) => ({ id: String(r.id), alerts: Number(r.n) })) };
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
