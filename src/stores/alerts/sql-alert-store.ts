// The alert store written once, in the SQL SQLite and PostgreSQL both accept (`?` placeholders), over the shared SQL
// layer (../sql/; the stores on each engine are sqlite.ts and postgres.ts; the schema is schema.ts). One row per
// alert with its full document (SQLite: JSON text; PostgreSQL: JSONB) beside the columns that filters, groups and
// triage use; comments, exceptions, the group summary (alert_groups) and the searchable values (alert_fields) in
// their own tables, each kept in the transaction of the change. Times are ISO 8601 UTC text compared as text (ids,
// keys and times sort bytewise: COLLATE "C" on PostgreSQL). A write is one transaction: INSERT … ON CONFLICT DO
// NOTHING makes concurrent writers of the same deterministic alert id store it once and report it new to exactly
// one of them; the others merge theirs into it as a repeat (row lock on PostgreSQL). A new alert that an active
// exception of its tenant and rule matches is stored `excepted` (exceptions are read in the write's transaction,
// so one created by any API process applies to every writer's next write). Parameterised queries only.

import { randomBytes } from 'node:crypto';
import { mergeRepeat, type Alert } from '../../detect/alerts.ts';
import { matchingException, type AlertException } from '../../detect/exceptions.ts';
import type { SqlDb, SqlQuerier, SqlRow, SqlValue } from '../sql/sql-db.ts';
import { alertFields, insertFields, type FieldRow } from './fields.ts';
import { GROUP_COLUMN, GROUP_SUMMARY_INSERT, MIGRATION_LOCK, MIGRATIONS_TABLE, migrationsOf } from './schema.ts';
import {
  ALERT_STATUSES, MAX_BULK, MAX_EXCEPTIONS, SEVERITY_ORDER, TooManyExceptionsError, bucketTime,
  type AlertComment, type AlertCounts, type AlertFilter, type AlertGroup, type AlertQuery, type AlertStatus, type AlertStore,
  type BulkAction, type BulkResult, type Disposition, type ExceptionInput, type ExceptionPatch, type ExceptionQuery, type GroupBy,
  type LevelBucket, type StoredAlert, type TriageAction,
} from './types.ts';

/** The advisory lock space (with the tenant) under which a PostgreSQL transaction changes a tenant's alert_groups rows. */
const GROUPS_LOCK = 0x76616c67; // 'valg'
/** The advisory lock space (with the tenant) of exception creation: one creator per tenant at a time. */
const EXCEPTIONS_LOCK = 0x76616c65; // 'vale'
/**
 * SQLite: new alerts stored between two `PRAGMA optimize` runs. The planner needs table statistics (PostgreSQL keeps
 * its own): without them it answers a user, file or hash filter by scanning every alert of the tenant in time or
 * rule order, checking each against alert_fields, instead of looking up the few alerts the filter names.
 */
const SQLITE_OPTIMIZE_EVERY = 5000;
/** Rows per multi-row INSERT of alert_groups (10 parameters each). */
const GROUP_ROWS_PER_INSERT = 500;

/** Weight of an alert's level in a host's risk score. */
export const LEVEL_RISK: Record<string, number> = { informational: 0, low: 1, medium: 3, high: 7, critical: 10 };

const COLUMNS = 'id, doc, status, assignee, close_reason, disposition, exception_id, updated_at, last_seen';
const EXCEPTION_COLUMNS = 'tenant_id, id, rule_id, conditions, scope, reason, expires_at, source_alert_id, created_by, created_at, updated_by, updated_at';

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
function encodeGroupCursor(by: GroupBy, lastSeen: string, key: string): string {
  return Buffer.from(JSON.stringify([by, lastSeen, key])).toString('base64url');
}

function decodeGroupCursor(c: string, by: GroupBy): [string, string] {
  try {
    const v = JSON.parse(Buffer.from(c, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'string') && v[0] === by) return [v[1], v[2]];
  } catch { /* reported below */ }
  throw new Error('invalid cursor');
}

/** `CASE level …` as the level's rank in SEVERITY_ORDER (0 for unknown levels). */
const LEVEL_RANK_SQL = `CASE level ${SEVERITY_ORDER.map((l, i) => `WHEN '${l}' THEN ${i}`).join(' ')} ELSE 0 END`;
const STATUS_COUNTS_SQL = ALERT_STATUSES.map((s) => `SUM(CASE WHEN status = '${s}' THEN 1 ELSE 0 END) AS n_${s}`).join(', ');
/** The same over alert_groups rows. */
const SUMMARY_STATUS_COUNTS_SQL = ALERT_STATUSES.map((s) => `SUM(CASE WHEN status = '${s}' THEN n ELSE 0 END) AS n_${s}`).join(', ');
const RISK_SQL = `CASE level ${Object.entries(LEVEL_RISK).map(([level, w]) => `WHEN '${level}' THEN ${w}`).join(' ')} ELSE 0 END`;

/** Whether alert_groups answers a filter: the tenant, statuses, severities and hosts, nothing else. */
function summaryAnswers(f: AlertFilter): boolean {
  for (const [k, v] of Object.entries(f)) {
    if (v === undefined || ['tenantId', 'statuses', 'severities', 'hostId', 'hostIds', 'limit', 'cursor'].includes(k)) continue;
    if (k === 'dispositions' && Array.isArray(v) && v.length === 0) continue;
    return false;
  }
  return true;
}

/** One alert_groups row's change: alerts and occurrences added, the span widened. */
interface GroupCell { tenant_id: string; kind: GroupBy; key: string; host_id: string; status: string; level: string; n: number; occ: number; first_seen: string; last_seen: string }

/** Changes to alert_groups, one per row, applied at the end of a write (sorted, so concurrent writers lock rows in one order). */
class GroupCells {
  private readonly cells = new Map<string, GroupCell>();

  add(a: { tenant_id: string; rule_id: string; host_id: string; process_entity_id: string; status: string; level: string },
    n: number, occ: number, firstSeen: string, lastSeen: string): void {
    for (const kind of ['rule', 'host', 'process'] as const) {
      const key = kind === 'rule' ? a.rule_id : kind === 'host' ? a.host_id : a.process_entity_id;
      const id = JSON.stringify([a.tenant_id, kind, key, a.host_id, a.status, a.level]);
      const c = this.cells.get(id);
      if (!c) {
        this.cells.set(id, { tenant_id: a.tenant_id, kind, key, host_id: a.host_id, status: a.status, level: a.level, n, occ, first_seen: firstSeen, last_seen: lastSeen });
        continue;
      }
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
async function walkGroupKeys(limit: number, cursor: [string, string] | undefined,
  rows: (after: [string, string] | undefined, n: number) => Promise<SqlRow[]>,
  above: (keys: string[]) => Promise<Set<string>>): Promise<string[]> {
  const seen = new Set<string>();
  const out: string[] = [];
  const n = Math.max(64, (limit + 1) * 4);
  let after = cursor;
  for (;;) {
    const chunk = await rows(after, n);
    const fresh: string[] = [];
    for (const r of chunk) if (!seen.has(String(r.key))) { seen.add(String(r.key)); fresh.push(String(r.key)); }
    const earlier = cursor && fresh.length ? await above(fresh) : new Set<string>();
    for (const k of fresh) {
      if (earlier.has(k)) continue;
      out.push(k);
      if (out.length > limit) return out;
    }
    if (chunk.length < n) return out;
    after = [String(chunk[n - 1].last_seen), String(chunk[n - 1].key)];
  }
}

function groupOf(r: SqlRow): AlertGroup {
  return {
    key: String(r.key), label: null, count: Number(r.n), occurrences: Number(r.occ), max_severity: SEVERITY_ORDER[Number(r.rank)] ?? 'informational',
    first_seen: String(r.first_seen), last_seen: String(r.last_seen),
    statuses: Object.fromEntries(ALERT_STATUSES.map((s) => [s, Number(r[`n_${s}`] ?? 0)])) as Record<AlertStatus, number>,
  };
}

/** The label of a process group from its latest alert's document. */
function processLabel(doc: Alert | undefined): string | null {
  const p = doc?.process as { command_line?: string; executable?: string } | undefined;
  const e = (doc?.events[0] as { process?: { command_line?: string; executable?: string } } | undefined)?.process;
  return p?.command_line || e?.command_line || p?.executable || e?.executable || null;
}

const newExceptionId = () => `exc_${randomBytes(12).toString('hex')}`;

/** A JSON column's value: text on SQLite, already parsed on PostgreSQL. */
const json = <T>(v: unknown): T => (typeof v === 'string' ? JSON.parse(v) : v) as T;

function exceptionOf(r: SqlRow): AlertException {
  return {
    tenant_id: String(r.tenant_id), id: String(r.id), rule_id: String(r.rule_id), conditions: json(r.conditions), scope: json(r.scope),
    reason: String(r.reason), expires_at: r.expires_at == null ? null : String(r.expires_at),
    source_alert_id: r.source_alert_id == null ? null : String(r.source_alert_id), created_by: String(r.created_by),
    created_at: String(r.created_at), updated_by: String(r.updated_by), updated_at: String(r.updated_at),
  };
}

const nullable = (v: unknown): string | null => (v == null ? null : String(v));
const placeholders = (n: number) => Array.from({ length: n }, () => '?').join(', ');

/** A WHERE clause under construction: terms joined with AND, their parameters in order. */
class Where {
  readonly terms: string[] = [];
  readonly params: SqlValue[] = [];

  add(term: string, ...params: SqlValue[]): this {
    this.terms.push(term);
    this.params.push(...params);
    return this;
  }

  /** `column IN (…)`; an empty list matches nothing. */
  anyOf(column: string, values: readonly string[] | undefined): this {
    if (values === undefined) return this;
    return values.length ? this.add(`${column} IN (${placeholders(values.length)})`, ...values) : this.add('1 = 0');
  }

  get sql(): string {
    return this.terms.join(' AND ');
  }
}

export class SqlAlertStore implements AlertStore {
  protected readonly db: SqlDb;
  /** `value` contains the parameter (case-sensitive, no wildcards). */
  private readonly contains: string;
  /**
   * `column` is one of a text list given as one JSON parameter. PostgreSQL: `= ANY(ARRAY(…))`, an array made once
   * and probed through the column's index (as `IN (subquery)` it was a nested loop over every row of the other
   * terms when the planner had no statistics yet: 2 s for a page of 50 process groups at 100,000 alerts).
   */
  private readonly inJson: (column: string) => string;
  /** New alerts stored since the last optimize (SQLITE_OPTIMIZE_EVERY). */
  private storedSinceOptimize = 0;

  constructor(db: SqlDb) {
    this.db = db;
    const sqlite = db.engine === 'sqlite';
    this.contains = sqlite ? 'instr(value, ?) > 0' : 'strpos(value, ?) > 0';
    this.inJson = sqlite ? (column) => `${column} IN (SELECT value FROM json_each(?))`
      : (column) => `${column} = ANY(ARRAY(SELECT jsonb_array_elements_text(CAST(? AS jsonb))))`;
  }

  async migrate(): Promise<void> {
    await this.db.migrate({ table: MIGRATIONS_TABLE, lockKey: MIGRATION_LOCK, migrations: migrationsOf(this.db) });
    await this.optimize();
  }

  /** SQLite: refreshes the planner's statistics of the tables that need it (a bounded sample: milliseconds). */
  private async optimize(): Promise<void> {
    this.storedSinceOptimize = 0;
    if (this.db.engine === 'sqlite') await this.db.exec('PRAGMA analysis_limit = 1000; PRAGMA optimize = 0x10002');
  }

  async write(alerts: Alert[]): Promise<StoredAlert[]> {
    if (alerts.length === 0) return [];
    const now = new Date();
    const nowText = now.toISOString();
    const stored = await this.db.tx(async (q) => {
      const stored: StoredAlert[] = [];
      const exceptions = new Map<string, AlertException[]>();
      const cells = new GroupCells();
      const fields: FieldRow[] = [];
      for (const a of alerts) {
        const pair = JSON.stringify([a.tenant_id, a.rule.id]);
        if (!exceptions.has(pair)) exceptions.set(pair, await this.activeExceptions(q, a.tenant_id, a.rule.id, nowText));
        const exception = matchingException(exceptions.get(pair)!, a, now);
        const status: AlertStatus = exception ? 'excepted' : 'open';
        const exceptionId = exception?.id ?? null;
        const inserted = await q.run(`INSERT INTO alerts
          (tenant_id, id, host_id, rule_id, level, status, exception_id, first_seen, last_seen, doc, updated_at, process_entity_id, occurrences)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, id) DO NOTHING`,
        [a.tenant_id, a.id, a.host_id ?? '', a.rule.id, a.rule.level, status, exceptionId, a.first_seen, a.last_seen, JSON.stringify(a), nowText,
          a.process_entity_id ?? '', a.occurrences ?? 1]);
        if (inserted === 1) {
          stored.push({ ...a, status, assignee: null, close_reason: null, disposition: null, exception_id: exceptionId, comments: [], updated_at: nowText });
          cells.add({ tenant_id: a.tenant_id, rule_id: a.rule.id, host_id: a.host_id ?? '', process_entity_id: a.process_entity_id ?? '', status, level: a.rule.level },
            1, a.occurrences ?? 1, a.first_seen, a.last_seen);
          fields.push(...alertFields(a.tenant_id, a.id, a));
        } else {
          const merged = await this.mergeRepeat(q, a, nowText, cells);
          if (merged) fields.push(...alertFields(a.tenant_id, a.id, merged));
        }
      }
      await insertFields(q, fields);
      await this.addGroups(q, cells.sorted());
      return stored;
    });
    this.storedSinceOptimize += stored.length;
    if (this.storedSinceOptimize >= SQLITE_OPTIMIZE_EVERY) await this.optimize();
    return stored;
  }

  /** A repeat of a stored alert (same id) widens it and counts one more occurrence; a re-delivery changes nothing. The merged document, if any. */
  private async mergeRepeat(q: SqlQuerier, repeat: Alert, now: string, cells: GroupCells): Promise<Alert | undefined> {
    const row = await q.get(`SELECT doc, tenant_id, rule_id, host_id, process_entity_id, status, level, occurrences FROM alerts
      WHERE tenant_id = ? AND id = ?${this.db.forUpdate}`, [repeat.tenant_id, repeat.id]);
    const merged = row && mergeRepeat(json<Alert>(row.doc), repeat);
    if (!row || !merged) return undefined;
    const at = { tenant_id: String(row.tenant_id), rule_id: String(row.rule_id), host_id: String(row.host_id), process_entity_id: String(row.process_entity_id), status: String(row.status), level: String(row.level) };
    cells.add(at, 0, (merged.occurrences ?? 1) - Number(row.occurrences), merged.first_seen, merged.last_seen);
    await q.run('UPDATE alerts SET first_seen = ?, last_seen = ?, doc = ?, occurrences = ?, updated_at = ? WHERE tenant_id = ? AND id = ?',
      [merged.first_seen, merged.last_seen, JSON.stringify(merged), merged.occurrences ?? 1, now, repeat.tenant_id, repeat.id]);
    return merged;
  }

  /** Adds a write's changes to alert_groups, under the tenants' group locks (PostgreSQL). */
  private async addGroups(q: SqlQuerier, rows: GroupCell[]): Promise<void> {
    if (rows.length === 0) return;
    await this.db.lock(q, GROUPS_LOCK, rows.map((c) => c.tenant_id));
    for (let i = 0; i < rows.length; i += GROUP_ROWS_PER_INSERT) {
      const chunk = rows.slice(i, i + GROUP_ROWS_PER_INSERT);
      await q.run(`INSERT INTO alert_groups (tenant_id, kind, key, host_id, status, level, n, occ, first_seen, last_seen)
        VALUES ${chunk.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}
        ON CONFLICT (tenant_id, kind, key, host_id, status, level) DO UPDATE SET n = alert_groups.n + excluded.n, occ = alert_groups.occ + excluded.occ,
          first_seen = CASE WHEN excluded.first_seen < alert_groups.first_seen THEN excluded.first_seen ELSE alert_groups.first_seen END,
          last_seen = CASE WHEN excluded.last_seen > alert_groups.last_seen THEN excluded.last_seen ELSE alert_groups.last_seen END`,
      chunk.flatMap((c) => [c.tenant_id, c.kind, c.key, c.host_id, c.status, c.level, c.n, c.occ, c.first_seen, c.last_seen]));
    }
  }

  private async activeExceptions(q: SqlQuerier, tenantId: string, ruleId: string, now: string): Promise<AlertException[]> {
    return (await q.all(`SELECT ${EXCEPTION_COLUMNS} FROM alert_exceptions WHERE tenant_id = ? AND rule_id = ? AND (expires_at IS NULL OR expires_at > ?)
      ORDER BY created_at, id`, [tenantId, ruleId, now])).map(exceptionOf);
  }

  /** Recomputes the alert_groups rows of every key the alerts `ids` have (after their status changed); in the caller's transaction. */
  private async refreshGroups(q: SqlQuerier, tenantId: string, ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.db.lock(q, GROUPS_LOCK, [tenantId]);
    const list = JSON.stringify(ids);
    for (const kind of ['rule', 'host', 'process'] as const) {
      const keys = `SELECT DISTINCT ${GROUP_COLUMN[kind]} FROM alerts WHERE tenant_id = ? AND ${this.inJson('id')}`;
      await q.run(`DELETE FROM alert_groups WHERE tenant_id = ? AND kind = ? AND key IN (${keys})`, [tenantId, kind, tenantId, list]);
      await q.run(GROUP_SUMMARY_INSERT(kind, `WHERE tenant_id = ? AND ${GROUP_COLUMN[kind]} IN (${keys})`), [tenantId, tenantId, list]);
    }
  }

  /** `id IN` the alerts with this field value (`contains`: a substring of it). */
  private byField(w: Where, tenantId: string, field: string, value: string, contains = false): void {
    w.add(`id IN (SELECT alert_id FROM alert_fields WHERE tenant_id = ? AND field = ? AND ${contains ? this.contains : 'value = ?'})`, tenantId, field, value);
  }

  /** WHERE terms and parameters of a filter over alerts. */
  private where(f: AlertFilter): Where {
    const w = new Where().add('tenant_id = ?', f.tenantId);
    if (f.severities?.length) w.anyOf('level', f.severities);
    if (f.statuses?.length) w.anyOf('status', f.statuses);
    if (f.dispositions?.length) w.anyOf('disposition', f.dispositions);
    if (f.hostId) w.add('host_id = ?', f.hostId);
    w.anyOf('host_id', f.hostIds);
    if (f.ruleId) w.add('rule_id = ?', f.ruleId);
    if (f.processEntityId) w.add('process_entity_id = ?', f.processEntityId);
    if (f.userName) this.byField(w, f.tenantId, 'user', f.userName);
    if (f.filePath) this.byField(w, f.tenantId, 'file', f.filePath, true);
    if (f.sha256) this.byField(w, f.tenantId, 'sha256', f.sha256);
    if (f.ids) w.add(this.inJson('id'), JSON.stringify(f.ids));
    if (f.from) w.add('last_seen >= ?', f.from.toISOString());
    if (f.to) w.add('last_seen < ?', f.to.toISOString());
    return w;
  }

  /** alert_groups rows of a filter that summaryAnswers (a grouping's rows). */
  private summaryWhere(f: AlertFilter, kind: GroupBy): Where {
    const w = new Where().add('tenant_id = ?', f.tenantId).add('kind = ?', kind);
    if (f.severities?.length) w.anyOf('level', f.severities);
    if (f.statuses?.length) w.anyOf('status', f.statuses);
    if (f.hostId) w.add('host_id = ?', f.hostId);
    w.anyOf('host_id', f.hostIds);
    return w;
  }

  async list(q: AlertQuery): Promise<{ alerts: StoredAlert[]; next: string | null }> {
    const w = this.where(q);
    if (q.cursor) {
      const [lastSeen, id] = decodeCursor(q.cursor);
      w.add('(last_seen < ? OR (last_seen = ? AND id < ?))', lastSeen, lastSeen, id);
    }
    const rows = await this.db.all(`SELECT ${COLUMNS} FROM alerts WHERE ${w.sql} ORDER BY last_seen DESC, id DESC LIMIT ?`, [...w.params, q.limit + 1]);
    const page = rows.slice(0, q.limit);
    const last = page.at(-1);
    return { alerts: await this.views(q.tenantId, page), next: rows.length > q.limit && last ? encodeCursor(String(last.last_seen), String(last.id)) : null };
  }

  async count(f: AlertFilter): Promise<number> {
    if (summaryAnswers(f)) {
      const w = this.summaryWhere(f, 'host'); // every alert is in one host row
      return Number((await this.db.get(`SELECT COALESCE(SUM(n), 0) AS n FROM alert_groups WHERE ${w.sql}`, w.params))?.n ?? 0);
    }
    const w = this.where(f);
    return Number((await this.db.get(`SELECT COUNT(*) AS n FROM alerts WHERE ${w.sql}`, w.params))?.n ?? 0);
  }

  /** A grouped page from alert_groups (summaryAnswers): the page's keys by walking rows in time order, then their sums. */
  private async summaryGroups(q: AlertQuery, by: GroupBy): Promise<{ rows: SqlRow[]; total: number }> {
    const w = this.summaryWhere(q, by);
    const cursor = q.cursor ? decodeGroupCursor(q.cursor, by) : undefined;
    const keys = await walkGroupKeys(q.limit, cursor, (after, n) => this.db.all(`SELECT key, last_seen FROM alert_groups WHERE ${w.sql}
      ${after ? 'AND (last_seen < ? OR (last_seen = ? AND key < ?))' : ''} ORDER BY last_seen DESC, key DESC LIMIT ?`,
    [...w.params, ...(after ? [after[0], after[0], after[1]] : []), n]),
    async (fresh) => new Set((await this.db.all(`SELECT DISTINCT key FROM alert_groups WHERE ${w.sql} AND ${this.inJson('key')}
      AND (last_seen > ? OR (last_seen = ? AND key >= ?))`, [...w.params, JSON.stringify(fresh), cursor![0], cursor![0], cursor![1]])).map((r) => String(r.key))));
    const rows = keys.length === 0 ? [] : await this.db.all(`SELECT key, SUM(n) AS n, SUM(occ) AS occ, MAX(${LEVEL_RANK_SQL}) AS rank,
      MIN(first_seen) AS first_seen, MAX(last_seen) AS last_seen, ${SUMMARY_STATUS_COUNTS_SQL} FROM alert_groups
      WHERE ${w.sql} AND ${this.inJson('key')} GROUP BY key ORDER BY MAX(last_seen) DESC, key DESC`, [...w.params, JSON.stringify(keys)]);
    const total = Number((await this.db.get(`SELECT COUNT(DISTINCT key) AS n FROM alert_groups WHERE ${w.sql}`, w.params))?.n ?? 0);
    return { rows, total };
  }

  async groups(q: AlertQuery, by: GroupBy): Promise<{ groups: AlertGroup[]; next: string | null; total_groups: number }> {
    if (summaryAnswers(q)) {
      const { rows, total } = await this.summaryGroups(q, by);
      return this.groupPage(q, by, rows, total);
    }
    const column = `${GROUP_COLUMN[by]}${this.db.collateC}`;
    const w = this.where(q);
    const base = `FROM alerts WHERE ${w.sql} GROUP BY ${column}`;
    const having = new Where();
    if (q.cursor) {
      const [lastSeen, key] = decodeGroupCursor(q.cursor, by);
      having.add(`(MAX(last_seen) < ? OR (MAX(last_seen) = ? AND ${column} < ?))`, lastSeen, lastSeen, key);
    }
    const rows = await this.db.all(`SELECT ${column} AS key, COUNT(*) AS n, SUM(occurrences) AS occ, MAX(${LEVEL_RANK_SQL}) AS rank,
      MIN(first_seen) AS first_seen, MAX(last_seen) AS last_seen, ${STATUS_COUNTS_SQL} ${base} ${having.terms.length ? `HAVING ${having.sql}` : ''}
      ORDER BY MAX(last_seen) DESC, ${column} DESC LIMIT ?`, [...w.params, ...having.params, q.limit + 1]);
    const total = Number((await this.db.get(`SELECT COUNT(*) AS n FROM (SELECT 1 AS one ${base}) g`, w.params))?.n ?? 0);
    return this.groupPage(q, by, rows, total);
  }

  /** Groups of a page (limit + 1 rows) labelled from each key's latest alert, with the next cursor. */
  private async groupPage(q: AlertQuery, by: GroupBy, rows: SqlRow[], total: number): Promise<{ groups: AlertGroup[]; next: string | null; total_groups: number }> {
    const page = rows.slice(0, q.limit).map(groupOf);
    await Promise.all(page.filter((g) => by !== 'host' && g.key !== '').map(async (g) => {
      const r = await this.db.get(`SELECT host_id, doc FROM alerts WHERE tenant_id = ? AND ${GROUP_COLUMN[by]} = ? ORDER BY last_seen DESC, id DESC LIMIT 1`,
        [q.tenantId, g.key]);
      const doc = r ? json<Alert>(r.doc) : undefined;
      if (by === 'rule') g.label = doc?.rule.title ?? null;
      else { g.label = processLabel(doc); g.host_id = r ? String(r.host_id) : undefined; }
    }));
    const last = page.at(-1);
    return { groups: page, next: rows.length > q.limit && last ? encodeGroupCursor(by, last.last_seen, last.key) : null, total_groups: total };
  }

  async get(tenantId: string, id: string): Promise<StoredAlert | undefined> {
    const row = await this.db.get(`SELECT ${COLUMNS} FROM alerts WHERE tenant_id = ? AND id = ?`, [tenantId, id]);
    return row ? (await this.views(tenantId, [row]))[0] : undefined;
  }

  /** Rows → stored alerts, with the comments of the whole page in one query. */
  private async views(tenantId: string, rows: SqlRow[]): Promise<StoredAlert[]> {
    if (rows.length === 0) return [];
    const order = this.db.engine === 'postgres' ? 'seq' : 'rowid';
    const comments = await this.db.all(`SELECT alert_id, author, text, at FROM alert_comments WHERE tenant_id = ? AND ${this.inJson('alert_id')}
      ORDER BY at, ${order}`, [tenantId, JSON.stringify(rows.map((r) => String(r.id)))]);
    const byAlert = Map.groupBy(comments, (c) => String(c.alert_id));
    return rows.map((r) => ({
      ...json<Alert>(r.doc), status: String(r.status) as AlertStatus, assignee: nullable(r.assignee), close_reason: nullable(r.close_reason),
      disposition: nullable(r.disposition) as Disposition | null, exception_id: nullable(r.exception_id), updated_at: String(r.updated_at),
      comments: (byAlert.get(String(r.id)) ?? []).map((c): AlertComment => ({ author: String(c.author), text: String(c.text), at: String(c.at) })),
    }));
  }

  async triage(tenantId: string, id: string, actor: string, t: TriageAction): Promise<StoredAlert | undefined> {
    const now = new Date().toISOString();
    const found = await this.db.tx(async (q) => {
      if (!(await q.get(`SELECT id FROM alerts WHERE tenant_id = ? AND id = ?${this.db.forUpdate}`, [tenantId, id]))) return false;
      const set = (assignments: string, ...params: SqlValue[]) =>
        q.run(`UPDATE alerts SET ${assignments}, updated_at = ? WHERE tenant_id = ? AND id = ?`, [...params, now, tenantId, id]);
      switch (t.action) {
        case 'acknowledge': await set("status = CASE WHEN status = 'open' THEN 'acknowledged' ELSE status END"); break;
        case 'assign': await set('assignee = ?', t.assignee); break;
        case 'close': await set("status = 'closed', close_reason = ?, disposition = ?", t.reason, t.disposition); break;
        case 'comment':
          await q.run('INSERT INTO alert_comments (tenant_id, alert_id, author, text, at) VALUES (?, ?, ?, ?, ?)', [tenantId, id, actor, t.text, now]);
          await set('status = status');
          break;
      }
      if (t.action === 'acknowledge' || t.action === 'close') await this.refreshGroups(q, tenantId, [id]);
      return true;
    });
    return found ? this.get(tenantId, id) : undefined;
  }

  async bulkTriage(f: AlertFilter, _actor: string, t: BulkAction, max = MAX_BULK): Promise<BulkResult> {
    const w = this.where(f);
    let change: Where; let assignments: string; let values: SqlValue[];
    switch (t.action) {
      case 'acknowledge': change = new Where().add("status = 'open'"); assignments = "status = 'acknowledged'"; values = []; break;
      case 'assign': change = new Where().add('assignee IS DISTINCT FROM ?', t.assignee); assignments = 'assignee = ?'; values = [t.assignee]; break;
      case 'close':
        change = new Where().add('(status <> ? OR disposition IS DISTINCT FROM ? OR close_reason IS DISTINCT FROM ?)', 'closed', t.disposition, t.reason);
        assignments = "status = 'closed', disposition = ?, close_reason = ?"; values = [t.disposition, t.reason]; break;
    }
    const selection = `WHERE ${w.sql} AND ${change.sql}`;
    const selectionParams = [...w.params, ...change.params];
    return this.db.tx(async (q) => {
      const matched = Number((await q.get(`SELECT COUNT(*) AS n FROM alerts WHERE ${w.sql}`, w.params))?.n ?? 0);
      const eligible = Number((await q.get(`SELECT COUNT(*) AS n FROM alerts ${selection}`, selectionParams))?.n ?? 0);
      // The selection in a CTE: PostgreSQL runs it (and takes its row locks) once, bounded by its LIMIT.
      const changed = (await q.all(`WITH sel AS (SELECT id FROM alerts ${selection} ORDER BY last_seen DESC, id DESC LIMIT ?${this.db.forUpdate})
        UPDATE alerts SET ${assignments}, updated_at = ? WHERE tenant_id = ? AND id IN (SELECT id FROM sel) RETURNING id`,
      [...selectionParams, max, ...values, new Date().toISOString(), f.tenantId])).map((r) => String(r.id));
      if (t.action !== 'assign') await this.refreshGroups(q, f.tenantId, changed);
      return { matched, changed, remaining: eligible - changed.length };
    });
  }

  async listExceptions(q: ExceptionQuery): Promise<{ exceptions: AlertException[]; next: string | null; total: number }> {
    const w = new Where().add('tenant_id = ?', q.tenantId);
    if (q.ruleId !== undefined) w.add('rule_id = ?', q.ruleId);
    if (q.active !== undefined) {
      w.add(q.active ? '(expires_at IS NULL OR expires_at > ?)' : '(expires_at IS NOT NULL AND expires_at <= ?)', (q.now ?? new Date()).toISOString());
    }
    const total = Number((await this.db.get(`SELECT COUNT(*) AS n FROM alert_exceptions WHERE ${w.sql}`, w.params))?.n ?? 0);
    if (q.cursor) {
      const [createdAt, id] = decodeCursor(q.cursor);
      w.add('(created_at < ? OR (created_at = ? AND id < ?))', createdAt, createdAt, id);
    }
    const rows = (await this.db.all(`SELECT ${EXCEPTION_COLUMNS} FROM alert_exceptions WHERE ${w.sql} ORDER BY created_at DESC, id DESC LIMIT ?`,
      [...w.params, q.limit + 1])).map(exceptionOf);
    const page = rows.slice(0, q.limit);
    const last = page.at(-1);
    return { exceptions: page, next: rows.length > q.limit && last ? encodeCursor(last.created_at, last.id) : null, total };
  }

  async getException(tenantId: string, id: string): Promise<AlertException | undefined> {
    const r = await this.db.get(`SELECT ${EXCEPTION_COLUMNS} FROM alert_exceptions WHERE tenant_id = ? AND id = ?`, [tenantId, id]);
    return r ? exceptionOf(r) : undefined;
  }

  async createException(tenantId: string, actor: string, e: ExceptionInput): Promise<AlertException> {
    const now = new Date().toISOString();
    const x: AlertException = {
      id: newExceptionId(), tenant_id: tenantId, rule_id: e.rule_id, conditions: e.conditions, scope: e.scope, reason: e.reason,
      expires_at: e.expires_at, source_alert_id: e.source_alert_id ?? null, created_by: actor, created_at: now, updated_by: actor, updated_at: now,
    };
    await this.db.tx(async (q) => {
      await this.db.lock(q, EXCEPTIONS_LOCK, [tenantId]); // one creator per tenant at a time, so the bound holds across processes
      const n = Number((await q.get('SELECT COUNT(*) AS n FROM alert_exceptions WHERE tenant_id = ?', [tenantId]))?.n ?? 0);
      if (n >= MAX_EXCEPTIONS) throw new TooManyExceptionsError(`a tenant has at most ${MAX_EXCEPTIONS} exceptions`);
      await q.run(`INSERT INTO alert_exceptions (${EXCEPTION_COLUMNS}) VALUES (${placeholders(12)})`, [x.tenant_id, x.id, x.rule_id,
        JSON.stringify(x.conditions), JSON.stringify(x.scope), x.reason, x.expires_at, x.source_alert_id, actor, now, actor, now]);
    });
    return x;
  }

  async updateException(tenantId: string, id: string, actor: string, patch: ExceptionPatch): Promise<AlertException | undefined> {
    return this.db.tx(async (q) => {
      const row = await q.get(`SELECT ${EXCEPTION_COLUMNS} FROM alert_exceptions WHERE tenant_id = ? AND id = ?${this.db.forUpdate}`, [tenantId, id]);
      if (!row) return undefined;
      const after: AlertException = { ...exceptionOf(row), ...patch, updated_by: actor, updated_at: new Date().toISOString() };
      await q.run(`UPDATE alert_exceptions SET conditions = ?, scope = ?, reason = ?, expires_at = ?, updated_by = ?, updated_at = ?
        WHERE tenant_id = ? AND id = ?`, [JSON.stringify(after.conditions), JSON.stringify(after.scope), after.reason, after.expires_at,
        after.updated_by, after.updated_at, tenantId, id]);
      return after;
    });
  }

  async deleteException(tenantId: string, id: string): Promise<AlertException | undefined> {
    const r = await this.db.get(`DELETE FROM alert_exceptions WHERE tenant_id = ? AND id = ? RETURNING ${EXCEPTION_COLUMNS}`, [tenantId, id]);
    return r ? exceptionOf(r) : undefined;
  }

  async counts(tenantId: string, since: Date): Promise<AlertCounts> {
    const s = since.toISOString();
    const title = this.db.engine === 'postgres' ? "MAX(doc #>> '{rule,title}')" : "json_extract(MAX(doc), '$.rule.title')";
    const severities = await this.db.all('SELECT level, COUNT(*) AS n FROM alerts WHERE tenant_id = ? AND last_seen >= ? GROUP BY level', [tenantId, s]);
    const rules = await this.db.all(`SELECT rule_id AS id, ${title} AS title, COUNT(*) AS count FROM alerts WHERE tenant_id = ? AND last_seen >= ?
      GROUP BY rule_id ORDER BY count DESC, rule_id${this.db.collateC} LIMIT 10`, [tenantId, s]);
    const hosts = await this.db.all(`SELECT host_id AS id, COUNT(*) AS alerts, SUM(${RISK_SQL}) AS risk FROM alerts
      WHERE tenant_id = ? AND status IN ('open', 'acknowledged') AND host_id <> '' GROUP BY host_id ORDER BY risk DESC, host_id${this.db.collateC} LIMIT 10`, [tenantId]);
    return {
      bySeverity: Object.fromEntries(severities.map((r) => [String(r.level), Number(r.n)])),
      topRules: rules.map((r) => ({ id: String(r.id), title: String(r.title), count: Number(r.count) })),
      topHosts: hosts.map((r) => ({ id: String(r.id), alerts: Number(r.alerts), risk: Number(r.risk) })),
    };
  }

  async levelBuckets(tenantId: string, since: Date, bucketSeconds: number): Promise<LevelBucket[]> {
    const epoch = this.db.engine === 'postgres' ? 'CAST(floor(extract(epoch FROM CAST(last_seen AS timestamptz))) AS bigint)' : "CAST(strftime('%s', last_seen) AS INTEGER)";
    const bucket = Math.max(1, Math.trunc(bucketSeconds));
    const rows = await this.db.all(`SELECT (${epoch} / CAST(? AS INTEGER)) * CAST(? AS INTEGER) AS b, level, COUNT(*) AS n FROM alerts
      WHERE tenant_id = ? AND last_seen >= ? GROUP BY 1, level ORDER BY 1, level`, [bucket, bucket, tenantId, since.toISOString()]);
    return rows.map((r) => ({ t: bucketTime(Number(r.b)), level: String(r.level), count: Number(r.n) }));
  }

  async techniqueCounts(tenantId: string, statuses: AlertStatus[]) {
    const w = new Where().add('a.tenant_id = ?', tenantId);
    if (statuses.length) w.anyOf('a.status', statuses);
    const alerts = Number((await this.db.get(`SELECT COUNT(*) AS n FROM alerts a WHERE ${w.sql}`, w.params))?.n ?? 0);
    const rows = await this.db.all(`SELECT f.value AS id, COUNT(*) AS n FROM alert_fields f JOIN alerts a ON a.tenant_id = f.tenant_id AND a.id = f.alert_id
      WHERE f.tenant_id = ? AND f.field = 'technique' AND ${w.sql} GROUP BY f.value ORDER BY n DESC, f.value`, [tenantId, ...w.params]);
    return { alerts, techniques: rows.map((x) => ({ id: String(x.id), alerts: Number(x.n) })) };
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
