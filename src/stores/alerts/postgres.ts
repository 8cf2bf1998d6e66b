// The alert store on PostgreSQL (scale-out: every worker writes here, every API process reads and triages
// here). Same tables, cursors and semantics as the SQLite store: one row per alert with its document
// beside the filter, group and triage columns, comments and exceptions in their own tables. Times are ISO-8601
// text, compared as text exactly as SQLite does; ids and keys sort bytewise (COLLATE "C"). A write is one
// transaction; INSERT … ON CONFLICT DO NOTHING makes concurrent writers of the same deterministic alert id
// store it once and report it new to exactly one of them; the others merge theirs into it as a repeat (row lock).
// A new alert that an active exception matches is stored `excepted` (exceptions are read in the write's
// transaction, so one created by any API process applies to every worker's next write). Migrations run under an
// advisory lock. Parameterised queries only.

import type pg from 'pg';
import { inTransaction, migratePostgres, openPool } from '../postgres-migrations.ts';
import { mergeRepeat, type Alert } from '../../detect/alerts.ts';
import { matchingException, type AlertException } from '../../detect/exceptions.ts';
import {
  GROUP_COLUMN, GROUP_SUMMARY_INSERT, GroupCells, LEVEL_RANK_SQL, LEVEL_RISK, STATUS_COUNTS_SQL, SUMMARY_STATUS_COUNTS_SQL, decodeCursor,
  decodeGroupCursor, encodeCursor, encodeGroupCursor, groupOf, newExceptionId, processLabel, summaryAnswers, walkGroupKeys, type GroupRow,
} from './sqlite.ts';
import {
  MAX_BULK, MAX_EXCEPTIONS, TooManyExceptionsError, bucketTime,
  type AlertComment, type AlertCounts, type AlertFilter, type AlertGroup, type AlertQuery, type AlertStatus, type AlertStore,
  type BulkAction, type BulkResult, type Disposition, type ExceptionInput, type ExceptionPatch, type ExceptionQuery, type GroupBy,
  type LevelBucket, type StoredAlert, type TriageAction,
} from './types.ts';

export const MIGRATION_LOCK = 0x76616c74; // 'valt': the advisory lock key of alert migrations
/** The advisory lock (with the tenant's hash) under which a transaction changes a tenant's alert_groups rows. */
const GROUPS_LOCK = 0x76616c67; // 'valg'

export const MIGRATIONS: string[][] = [[
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
  GROUP_SUMMARY_INSERT('rule'), GROUP_SUMMARY_INSERT('host'), GROUP_SUMMARY_INSERT('process'),
]];

const COLUMNS = 'id, doc, status, assignee, close_reason, disposition, exception_id, updated_at, last_seen';

interface Row {
  id: string; doc: Alert; status: string; assignee: string | null; close_reason: string | null; disposition: string | null;
  exception_id: string | null; updated_at: string; last_seen: string;
}

type ExceptionRow = Omit<AlertException, never>;
const EXCEPTION_COLUMNS = 'tenant_id, id, rule_id, conditions, scope, reason, expires_at, source_alert_id, created_by, created_at, updated_by, updated_at';

type Queryable = Pick<pg.Pool, 'query'>;

export interface PostgresAlertOptions extends pg.PoolConfig {
  /** Most pooled connections (default 5). */
  max?: number;
}

export class PostgresAlertStore implements AlertStore {
  private readonly pool: pg.Pool;
  private closed = false;

  constructor(o: PostgresAlertOptions) {
    this.pool = openPool(o, 5);
  }

  async migrate(): Promise<void> {
    await migratePostgres(this.pool, 'alert_schema_migrations', MIGRATION_LOCK, MIGRATIONS);
  }

  private transaction<T>(body: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return inTransaction(this.pool, body);
  }

  async write(alerts: Alert[]): Promise<StoredAlert[]> {
    if (alerts.length === 0) return [];
    const now = new Date();
    const nowText = now.toISOString();
    return this.transaction(async (client) => {
      const stored: StoredAlert[] = [];
      const exceptions = new Map<string, AlertException[]>();
      const cells = new GroupCells();
      for (const a of alerts) {
        const pair = JSON.stringify([a.tenant_id, a.rule.id]);
        if (!exceptions.has(pair)) exceptions.set(pair, await this.activeExceptions(client, a.tenant_id, a.rule.id, nowText));
        const exception = matchingException(exceptions.get(pair)!, a, now);
        const status: AlertStatus = exception ? 'excepted' : 'open';
        const exceptionId = exception?.id ?? null;
        const r = await client.query(`INSERT INTO alerts
          (tenant_id, id, host_id, rule_id, level, status, exception_id, first_seen, last_seen, doc, updated_at, process_entity_id, occurrences)
          VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (tenant_id, id) DO NOTHING`,
        [a.tenant_id, a.id, a.host_id ?? '', a.rule.id, a.rule.level, status, exceptionId, a.first_seen, a.last_seen, JSON.stringify(a), nowText,
          a.process_entity_id ?? '', a.occurrences ?? 1]);
        if (r.rowCount === 1) {
          stored.push({ ...a, status, assignee: null, close_reason: null, disposition: null, exception_id: exceptionId, comments: [], updated_at: nowText });
          cells.add({ tenant_id: a.tenant_id, rule_id: a.rule.id, host_id: a.host_id ?? '', process_entity_id: a.process_entity_id ?? '', status, level: a.rule.level },
            1, a.occurrences ?? 1, a.first_seen, a.last_seen);
        } else await this.mergeRepeat(client, a, nowText, cells);
      }
      const rows = cells.sorted();
      if (rows.length) {
        await this.lockGroups(client, rows.map((c) => c.tenant_id));
        const col = <K extends keyof (typeof rows)[number]>(k: K) => rows.map((c) => c[k]);
        await client.query(`INSERT INTO alert_groups (tenant_id, kind, key, status, level, n, occ, first_seen, last_seen)
          SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::bigint[], $8::text[], $9::text[])
          ON CONFLICT (tenant_id, kind, key, status, level) DO UPDATE SET n = alert_groups.n + excluded.n, occ = alert_groups.occ + excluded.occ,
            first_seen = LEAST(alert_groups.first_seen, excluded.first_seen), last_seen = GREATEST(alert_groups.last_seen, excluded.last_seen)`,
        [col('tenant_id'), col('kind'), col('key'), col('status'), col('level'), col('n'), col('occ'), col('first_seen'), col('last_seen')]);
      }
      return stored;
    });
  }

  /** A repeat of a stored alert (same id) widens it and counts one more occurrence; a re-delivery changes nothing. */
  private async mergeRepeat(db: Queryable, repeat: Alert, now: string, cells: GroupCells): Promise<void> {
    const r = await db.query<{ doc: Alert; tenant_id: string; rule_id: string; host_id: string; process_entity_id: string; status: string; level: string; occurrences: number }>(
      `SELECT doc, tenant_id, rule_id, host_id, process_entity_id, status, level, occurrences FROM alerts WHERE tenant_id = $1 AND id = $2 FOR UPDATE`,
      [repeat.tenant_id, repeat.id]);
    const row = r.rows[0];
    const merged = row && mergeRepeat(row.doc, repeat);
    if (!merged) return;
    cells.add(row, 0, (merged.occurrences ?? 1) - Number(row.occurrences), merged.first_seen, merged.last_seen);
    await db.query('UPDATE alerts SET first_seen = $1, last_seen = $2, doc = $3, occurrences = $4, updated_at = $5 WHERE tenant_id = $6 AND id = $7',
      [merged.first_seen, merged.last_seen, JSON.stringify(merged), merged.occurrences ?? 1, now, repeat.tenant_id, repeat.id]);
  }

  private async activeExceptions(db: Queryable, tenantId: string, ruleId: string, now: string): Promise<AlertException[]> {
    const r = await db.query<ExceptionRow>(`SELECT ${EXCEPTION_COLUMNS} FROM alert_exceptions WHERE tenant_id = $1 AND rule_id = $2
      AND (expires_at IS NULL OR expires_at > $3) ORDER BY created_at, id`, [tenantId, ruleId, now]);
    return r.rows;
  }

  /**
   * Serialises changes to the tenants' alert_groups rows (writers add to them at the end of their transaction,
   * triage recomputes them from the alerts): a recount then sees every committed change and none is lost.
   */
  private async lockGroups(db: Queryable, tenants: string[]): Promise<void> {
    for (const t of [...new Set(tenants)].sort()) await db.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [GROUPS_LOCK, t]);
  }

  /** Recomputes the alert_groups rows of every key the alerts `ids` have (after their status changed); in the caller's transaction. */
  private async refreshGroups(db: Queryable, tenantId: string, ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.lockGroups(db, [tenantId]);
    for (const kind of ['rule', 'host', 'process'] as const) {
      const keys = `SELECT DISTINCT ${GROUP_COLUMN[kind]} FROM alerts WHERE tenant_id = $1 AND id = ANY($2)`;
      await db.query(`DELETE FROM alert_groups WHERE tenant_id = $1 AND kind = '${kind}' AND key IN (${keys})`, [tenantId, ids]);
      await db.query(GROUP_SUMMARY_INSERT(kind, `WHERE tenant_id = $1 AND ${GROUP_COLUMN[kind]} IN (${keys})`), [tenantId, ids]);
    }
  }

  /** alert_groups terms of a filter that summaryAnswers, its parameters appended to `params`. */
  private summaryWhere(f: AlertFilter, kind: GroupBy, params: unknown[]): string[] {
    const param = (v: unknown) => `$${params.push(v)}`;
    const where = [`tenant_id = ${param(f.tenantId)}`, `kind = ${param(kind)}`];
    if (f.severities?.length) where.push(`level = ANY(${param(f.severities)})`);
    if (f.statuses?.length) where.push(`status = ANY(${param(f.statuses)})`);
    return where;
  }

  /** WHERE terms of a filter, its parameters appended to `params`. */
  private where(f: AlertFilter, params: unknown[]): string[] {
    params.push(f.tenantId);
    const where = [`tenant_id = $${params.length}`];
    const param = (v: unknown) => `$${params.push(v)}`;
    if (f.severities?.length) where.push(`level = ANY(${param(f.severities)})`);
    if (f.statuses?.length) where.push(`status = ANY(${param(f.statuses)})`);
    if (f.dispositions?.length) where.push(`disposition = ANY(${param(f.dispositions)})`);
    if (f.hostId) where.push(`host_id = ${param(f.hostId)}`);
    if (f.hostIds) where.push(`host_id = ANY(${param(f.hostIds)})`);
    if (f.ruleId) where.push(`rule_id = ${param(f.ruleId)}`);
    if (f.processEntityId) where.push(`process_entity_id = ${param(f.processEntityId)}`);
    // Not indexed: read from the document (its ≤ MAX_KEPT_EVENTS events; containment matches any array element).
    if (f.userName) {
      where.push(`(doc->'process'->>'user_name' = ${param(f.userName)} OR doc @> ${param(JSON.stringify({ events: [{ user: { name: f.userName } }] }))}::jsonb)`);
    }
    if (f.filePath) {
      where.push(`EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(doc->'events') = 'array' THEN doc->'events' ELSE '[]'::jsonb END) e
        WHERE strpos(e->'file'->>'path', ${param(f.filePath)}) > 0)`);
    }
    if (f.sha256) where.push(`doc @> ${param(JSON.stringify({ events: [{ process: { hash: { sha256: f.sha256 } } }] }))}::jsonb`);
    if (f.ids) where.push(`id = ANY(${param(f.ids)})`);
    if (f.from) where.push(`last_seen >= ${param(f.from.toISOString())}`);
    if (f.to) where.push(`last_seen < ${param(f.to.toISOString())}`);
    return where;
  }

  async list(q: AlertQuery): Promise<{ alerts: StoredAlert[]; next: string | null }> {
    const params: unknown[] = [];
    const where = this.where(q, params);
    const param = (v: unknown) => `$${params.push(v)}`;
    if (q.cursor) {
      const [lastSeen, id] = decodeCursor(q.cursor);
      where.push(`(last_seen, id) < (${param(lastSeen)}, ${param(id)})`);
    }
    const r = await this.pool.query<Row>(`SELECT ${COLUMNS} FROM alerts WHERE ${where.join(' AND ')}
      ORDER BY last_seen DESC, id DESC LIMIT ${param(q.limit + 1)}`, params);
    const page = r.rows.slice(0, q.limit);
    const next = r.rows.length > q.limit ? encodeCursor(page.at(-1)!.last_seen, page.at(-1)!.id) : null;
    return { alerts: await this.views(q.tenantId, page), next };
  }

  async count(f: AlertFilter): Promise<number> {
    if (summaryAnswers(f)) {
      const params: unknown[] = [];
      const where = this.summaryWhere(f, 'host', params); // every alert is in one host row
      return Number((await this.pool.query<{ n: string }>(`SELECT COALESCE(SUM(n), 0) AS n FROM alert_groups WHERE ${where.join(' AND ')}`, params)).rows[0].n);
    }
    const params: unknown[] = [];
    const where = this.where(f, params);
    const r = await this.pool.query<{ n: string }>(`SELECT COUNT(*) AS n FROM alerts WHERE ${where.join(' AND ')}`, params);
    return Number(r.rows[0].n);
  }

  /** A grouped page from alert_groups (summaryAnswers): the page's keys by walking rows in time order, then their sums. */
  private async summaryGroups(q: AlertQuery, by: GroupBy): Promise<{ rows: GroupRow[]; total: number }> {
    const base: unknown[] = [];
    const cond = this.summaryWhere(q, by, base).join(' AND ');
    const cursor = q.cursor ? decodeGroupCursor(q.cursor, by) : undefined;
    const totalQuery = this.pool.query<{ n: string }>(`SELECT COUNT(DISTINCT key) AS n FROM alert_groups WHERE ${cond}`, base);
    totalQuery.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile
    const keys = await walkGroupKeys(q.limit, cursor, async (after, n) => {
      const params = [...base];
      const p = (v: unknown) => `$${params.push(v)}`;
      return (await this.pool.query<{ key: string; last_seen: string }>(`SELECT key, last_seen FROM alert_groups WHERE ${cond}
        ${after ? `AND (last_seen, key) < (${p(after[0])}, ${p(after[1])})` : ''} ORDER BY last_seen DESC, key DESC LIMIT ${p(n)}`, params)).rows;
    }, async (fresh) => {
      const params = [...base];
      const p = (v: unknown) => `$${params.push(v)}`;
      return new Set((await this.pool.query<{ key: string }>(`SELECT DISTINCT key FROM alert_groups WHERE ${cond} AND key = ANY(${p(fresh)})
        AND (last_seen, key) >= (${p(cursor![0])}, ${p(cursor![1])})`, params)).rows.map((r) => r.key));
    });
    const params = [...base];
    const rows = keys.length === 0 ? [] : (await this.pool.query<GroupRow>(`SELECT key, SUM(n) AS n, SUM(occ) AS occ, MAX(${LEVEL_RANK_SQL}) AS rank,
      MIN(first_seen) AS first_seen, MAX(last_seen) AS last_seen, ${SUMMARY_STATUS_COUNTS_SQL} FROM alert_groups
      WHERE ${cond} AND key = ANY($${params.push(keys)}) GROUP BY key ORDER BY MAX(last_seen) DESC, key DESC`, params)).rows;
    return { rows, total: Number((await totalQuery).rows[0].n) };
  }

  async groups(q: AlertQuery, by: GroupBy): Promise<{ groups: AlertGroup[]; next: string | null; total_groups: number }> {
    if (summaryAnswers(q)) {
      const { rows, total } = await this.summaryGroups(q, by);
      return this.groupPage(q, by, rows, total);
    }
    const column = `${GROUP_COLUMN[by]} COLLATE "C"`;
    const params: unknown[] = [];
    const where = this.where(q, params);
    const base = `FROM alerts WHERE ${where.join(' AND ')} GROUP BY ${column}`;
    const total = Number((await this.pool.query<{ n: string }>(`SELECT COUNT(*) AS n FROM (SELECT 1 ${base}) g`, params)).rows[0].n);
    const param = (v: unknown) => `$${params.push(v)}`;
    let having = '';
    if (q.cursor) {
      const [lastSeen, key] = decodeGroupCursor(q.cursor, by);
      having = `HAVING (MAX(last_seen), ${column}) < (${param(lastSeen)}, ${param(key)} COLLATE "C")`;
    }
    const r = await this.pool.query<GroupRow>(`SELECT ${column} AS key, COUNT(*) AS n, SUM(occurrences) AS occ, MAX(${LEVEL_RANK_SQL}) AS rank,
      MIN(first_seen) AS first_seen, MAX(last_seen) AS last_seen, ${STATUS_COUNTS_SQL} ${base} ${having}
      ORDER BY MAX(last_seen) DESC, ${column} DESC LIMIT ${param(q.limit + 1)}`, params);
    return this.groupPage(q, by, r.rows, total);
  }

  /** Groups of a page (limit + 1 rows) labelled from each key's latest alert, with the next cursor. */
  private async groupPage(q: AlertQuery, by: GroupBy, rows: GroupRow[], total: number): Promise<{ groups: AlertGroup[]; next: string | null; total_groups: number }> {
    const page = rows.slice(0, q.limit).map(groupOf);
    const labelled = page.filter((g) => by !== 'host' && g.key !== '');
    if (labelled.length) {
      // One index probe per key (its latest alert), not every alert of the page's keys.
      const latest = await this.pool.query<{ key: string; host_id: string; doc: Alert }>(`SELECT k.key, a.host_id, a.doc
        FROM unnest($2::text[]) AS k(key) CROSS JOIN LATERAL (SELECT host_id, doc FROM alerts
          WHERE tenant_id = $1 AND ${GROUP_COLUMN[by]} = k.key ORDER BY last_seen DESC, id DESC LIMIT 1) a`,
      [q.tenantId, labelled.map((g) => g.key)]);
      const byKey = new Map(latest.rows.map((x) => [x.key, x]));
      for (const g of labelled) {
        const x = byKey.get(g.key);
        if (by === 'rule') g.label = x?.doc.rule.title ?? null;
        else { g.label = processLabel(x?.doc); g.host_id = x?.host_id; }
      }
    }
    const last = page.at(-1);
    return { groups: page, next: rows.length > q.limit && last ? encodeGroupCursor(by, last.last_seen, last.key) : null, total_groups: total };
  }

  async get(tenantId: string, id: string): Promise<StoredAlert | undefined> {
    const r = await this.pool.query<Row>(`SELECT ${COLUMNS} FROM alerts WHERE tenant_id = $1 AND id = $2`, [tenantId, id]);
    return r.rows[0] ? (await this.views(tenantId, r.rows))[0] : undefined;
  }

  /** Rows → stored alerts, with the comments of the whole page in one query. */
  private async views(tenantId: string, rows: Row[]): Promise<StoredAlert[]> {
    if (rows.length === 0) return [];
    const comments = await this.pool.query<AlertComment & { alert_id: string }>(`SELECT alert_id, author, text, at FROM alert_comments
      WHERE tenant_id = $1 AND alert_id = ANY($2) ORDER BY at, seq`, [tenantId, rows.map((r) => r.id)]);
    const byAlert = Map.groupBy(comments.rows, (c) => c.alert_id);
    return rows.map((r) => ({
      ...r.doc, status: r.status as AlertStatus, assignee: r.assignee, close_reason: r.close_reason, disposition: r.disposition as Disposition | null,
      exception_id: r.exception_id, comments: (byAlert.get(r.id) ?? []).map(({ author, text, at }) => ({ author, text, at })), updated_at: r.updated_at,
    }));
  }

  async triage(tenantId: string, id: string, actor: string, t: TriageAction): Promise<StoredAlert | undefined> {
    const alert = await this.get(tenantId, id);
    if (!alert) return undefined;
    const now = new Date().toISOString();
    await this.transaction(async (client) => {
      const update = (assignments: string, params: (string | null)[] = []) => client.query(
        `UPDATE alerts SET ${assignments}, updated_at = $${params.length + 1} WHERE tenant_id = $${params.length + 2} AND id = $${params.length + 3}`,
        [...params, now, tenantId, id]);
      switch (t.action) {
        case 'acknowledge': await update("status = CASE WHEN status = 'open' THEN 'acknowledged' ELSE status END"); break;
        case 'assign': await update('assignee = $1', [t.assignee]); break;
        case 'close': await update("status = 'closed', close_reason = $1, disposition = $2", [t.reason, t.disposition]); break;
        case 'comment':
          await client.query('INSERT INTO alert_comments (tenant_id, alert_id, author, text, at) VALUES ($1, $2, $3, $4, $5)', [tenantId, id, actor, t.text, now]);
          await update('status = status');
          break;
      }
      if (t.action === 'acknowledge' || t.action === 'close') await this.refreshGroups(client, tenantId, [id]);
    });
    return this.get(tenantId, id);
  }

  async bulkTriage(f: AlertFilter, _actor: string, t: BulkAction, max = MAX_BULK): Promise<BulkResult> {
    return this.transaction(async (client) => {
      const params: unknown[] = [];
      const where = this.where(f, params);
      const matched = Number((await client.query<{ n: string }>(`SELECT COUNT(*) AS n FROM alerts WHERE ${where.join(' AND ')}`, params)).rows[0].n);
      const param = (v: unknown) => `$${params.push(v)}`;
      let change: string; let assignments: string;
      switch (t.action) {
        case 'acknowledge': change = "status = 'open'"; assignments = "status = 'acknowledged'"; break;
        case 'assign': { const a = param(t.assignee); change = `assignee IS DISTINCT FROM ${a}`; assignments = `assignee = ${a}`; break; }
        case 'close': {
          const [d, r] = [param(t.disposition), param(t.reason)];
          change = `(status <> 'closed' OR disposition IS DISTINCT FROM ${d} OR close_reason IS DISTINCT FROM ${r})`;
          assignments = `status = 'closed', disposition = ${d}, close_reason = ${r}`;
          break;
        }
      }
      const selection = `WHERE ${[...where, change].join(' AND ')}`;
      const eligible = Number((await client.query<{ n: string }>(`SELECT COUNT(*) AS n FROM alerts ${selection}`, params)).rows[0].n);
      const updated = await client.query<{ id: string }>(`WITH sel AS (SELECT id FROM alerts ${selection} ORDER BY last_seen DESC, id DESC
          LIMIT ${param(max)} FOR UPDATE)
        UPDATE alerts SET ${assignments}, updated_at = ${param(new Date().toISOString())} FROM sel WHERE alerts.tenant_id = $1 AND alerts.id = sel.id
        RETURNING alerts.id`, params);
      const changed = updated.rows.map((r) => r.id);
      if (t.action !== 'assign') await this.refreshGroups(client, f.tenantId, changed);
      return { matched, changed, remaining: eligible - changed.length };
    });
  }

  async listExceptions(q: ExceptionQuery): Promise<{ exceptions: AlertException[]; next: string | null; total: number }> {
    const params: unknown[] = [q.tenantId];
    const where = ['tenant_id = $1'];
    const param = (v: unknown) => `$${params.push(v)}`;
    if (q.ruleId !== undefined) where.push(`rule_id = ${param(q.ruleId)}`);
    if (q.active !== undefined) {
      const now = param((q.now ?? new Date()).toISOString());
      where.push(q.active ? `(expires_at IS NULL OR expires_at > ${now})` : `(expires_at IS NOT NULL AND expires_at <= ${now})`);
    }
    const total = Number((await this.pool.query<{ n: string }>(`SELECT COUNT(*) AS n FROM alert_exceptions WHERE ${where.join(' AND ')}`, params)).rows[0].n);
    if (q.cursor) {
      const [createdAt, id] = decodeCursor(q.cursor);
      where.push(`(created_at, id) < (${param(createdAt)}, ${param(id)})`);
    }
    const r = await this.pool.query<ExceptionRow>(`SELECT ${EXCEPTION_COLUMNS} FROM alert_exceptions WHERE ${where.join(' AND ')}
      ORDER BY created_at DESC, id DESC LIMIT ${param(q.limit + 1)}`, params);
    const page = r.rows.slice(0, q.limit);
    const last = page.at(-1);
    return { exceptions: page, next: r.rows.length > q.limit && last ? encodeCursor(last.created_at, last.id) : null, total };
  }

  async getException(tenantId: string, id: string): Promise<AlertException | undefined> {
    return (await this.pool.query<ExceptionRow>(`SELECT ${EXCEPTION_COLUMNS} FROM alert_exceptions WHERE tenant_id = $1 AND id = $2`, [tenantId, id])).rows[0];
  }

  async createException(tenantId: string, actor: string, e: ExceptionInput): Promise<AlertException> {
    const now = new Date().toISOString();
    const x: AlertException = {
      id: newExceptionId(), tenant_id: tenantId, rule_id: e.rule_id, conditions: e.conditions, scope: e.scope, reason: e.reason,
      expires_at: e.expires_at, source_alert_id: e.source_alert_id ?? null, created_by: actor, created_at: now, updated_by: actor, updated_at: now,
    };
    await this.transaction(async (client) => {
      // One creator per tenant at a time, so the bound holds across API processes.
      await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [MIGRATION_LOCK, tenantId]);
      const n = Number((await client.query<{ n: string }>('SELECT COUNT(*) AS n FROM alert_exceptions WHERE tenant_id = $1', [tenantId])).rows[0].n);
      if (n >= MAX_EXCEPTIONS) throw new TooManyExceptionsError(`a tenant has at most ${MAX_EXCEPTIONS} exceptions`);
      await client.query(`INSERT INTO alert_exceptions (${EXCEPTION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
        [x.tenant_id, x.id, x.rule_id, JSON.stringify(x.conditions), JSON.stringify(x.scope), x.reason, x.expires_at, x.source_alert_id, actor, now, actor, now]);
    });
    return x;
  }

  async updateException(tenantId: string, id: string, actor: string, patch: ExceptionPatch): Promise<AlertException | undefined> {
    return this.transaction(async (client) => {
      const before = (await client.query<ExceptionRow>(`SELECT ${EXCEPTION_COLUMNS} FROM alert_exceptions WHERE tenant_id = $1 AND id = $2 FOR UPDATE`,
        [tenantId, id])).rows[0];
      if (!before) return undefined;
      const after: AlertException = { ...before, ...patch, updated_by: actor, updated_at: new Date().toISOString() };
      await client.query(`UPDATE alert_exceptions SET conditions = $1, scope = $2, reason = $3, expires_at = $4, updated_by = $5, updated_at = $6
        WHERE tenant_id = $7 AND id = $8`, [JSON.stringify(after.conditions), JSON.stringify(after.scope), after.reason, after.expires_at,
        after.updated_by, after.updated_at, tenantId, id]);
      return after;
    });
  }

  async deleteException(tenantId: string, id: string): Promise<AlertException | undefined> {
    return (await this.pool.query<ExceptionRow>(`DELETE FROM alert_exceptions WHERE tenant_id = $1 AND id = $2 RETURNING ${EXCEPTION_COLUMNS}`, [tenantId, id])).rows[0];
  }

  async counts(tenantId: string, since: Date): Promise<AlertCounts> {
    const s = since.toISOString();
    const severities = await this.pool.query<{ level: string; n: string }>(
      'SELECT level, COUNT(*) AS n FROM alerts WHERE tenant_id = $1 AND last_seen >= $2 GROUP BY level', [tenantId, s]);
    const rules = await this.pool.query<{ id: string; title: string; count: string }>(`SELECT rule_id AS id, MAX(doc #>> '{rule,title}') AS title,
      COUNT(*) AS count FROM alerts WHERE tenant_id = $1 AND last_seen >= $2 GROUP BY rule_id ORDER BY count DESC, rule_id COLLATE "C" LIMIT 10`, [tenantId, s]);
    const hosts = await this.pool.query<{ id: string; alerts: string; risk: string }>(`SELECT host_id AS id, COUNT(*) AS alerts,
      SUM(COALESCE(($2::jsonb ->> level)::int, 0)) AS risk FROM alerts
      WHERE tenant_id = $1 AND status IN ('open', 'acknowledged') AND host_id <> '' GROUP BY host_id ORDER BY risk DESC, host_id COLLATE "C" LIMIT 10`,
    [tenantId, JSON.stringify(LEVEL_RISK)]);
    return {
      bySeverity: Object.fromEntries(severities.rows.map((r) => [r.level, Number(r.n)])),
      topRules: rules.rows.map((r) => ({ id: r.id, title: r.title, count: Number(r.count) })),
      topHosts: hosts.rows.map((r) => ({ id: r.id, alerts: Number(r.alerts), risk: Number(r.risk) })),
    };
  }

  async levelBuckets(tenantId: string, since: Date, bucketSeconds: number): Promise<LevelBucket[]> {
    const r = await this.pool.query<{ b: string; level: string; n: string }>(`SELECT floor(extract(epoch FROM last_seen::timestamptz) / $3)::bigint * $3 AS b,
      level, COUNT(*) AS n FROM alerts WHERE tenant_id = $1 AND last_seen >= $2 GROUP BY b, level ORDER BY b, level`, [tenantId, since.toISOString(), bucketSeconds]);
    return r.rows.map((x) => ({ t: bucketTime(x.b), level: x.level, count: Number(x.n) }));
  }

  async techniqueCounts(tenantId: string, statuses: AlertStatus[]) {
    const where = `a.tenant_id = $1${statuses.length ? ' AND a.status = ANY($2)' : ''}`;
    const params = statuses.length ? [tenantId, statuses] : [tenantId];
    const alerts = await this.pool.query<{ n: string }>(`SELECT COUNT(*) AS n FROM alerts a WHERE ${where}`, params);
    const r = await this.pool.query<{ id: string; n: string }>(`SELECT t->>'id' AS id, COUNT(DISTINCT a.id) AS n
      FROM alerts a CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(a.doc->'mitre') = 'array' THEN a.doc->'mitre' ELSE '[]'::jsonb END) t
      WHERE ${where} AND t->>'id' IS NOT NULL GROUP BY 1 ORDER BY n DESC, (t->>'id') COLLATE "C"`, params);
    return { alerts: Number(alerts.rows[0].n), techniques: r.rows.map((x) => ({ id: x.id, alerts: Number(x.n) })) };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}
