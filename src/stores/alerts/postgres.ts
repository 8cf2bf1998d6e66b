// The alert store on PostgreSQL (scale-out: every worker writes here, every API process reads and triages
// here). Same tables, cursors and semantics as the SQLite store: one row per alert with its document
// beside the filter and triage columns, comments and suppressions in their own tables. Times are ISO-8601
// text, compared as text exactly as SQLite does; ids sort bytewise (COLLATE "C"). A write is one
// transaction; INSERT … ON CONFLICT DO NOTHING makes concurrent writers of the same deterministic alert id
// store it once and report it new to exactly one of them; the others merge theirs into it as a repeat (row lock). Migrations run under an advisory lock.
// Parameterised queries only.

import type pg from 'pg';
import { inTransaction, migratePostgres, openPool } from '../postgres-migrations.ts';
import { mergeRepeat, type Alert } from '../../detect/alerts.ts';
import { LEVEL_RISK, decodeCursor, encodeCursor } from './sqlite.ts';
import { bucketTime, type AlertComment, type AlertCounts, type AlertQuery, type AlertStatus, type AlertStore, type LevelBucket, type StoredAlert, type TriageAction } from './types.ts';

const MIGRATION_LOCK = 0x76616c74; // 'valt': the advisory lock key of alert migrations

const MIGRATIONS: string[][] = [[
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
]];

const COLUMNS = 'id, doc, status, assignee, close_reason, suppressed_until, updated_at, last_seen';

interface Row {
  id: string; doc: Alert; status: string; assignee: string | null; close_reason: string | null;
  suppressed_until: string | null; updated_at: string; last_seen: string;
}

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
    const now = new Date().toISOString();
    return this.transaction(async (client) => {
      const stored: StoredAlert[] = [];
      for (const a of alerts) {
        const until = await this.activeSuppression(client, a.tenant_id, a.rule.id, a.host_id ?? '', now);
        const status: AlertStatus = until ? 'suppressed' : 'open';
        const r = await client.query(`INSERT INTO alerts
          (tenant_id, id, host_id, rule_id, level, status, suppressed_until, first_seen, last_seen, doc, updated_at)
          VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (tenant_id, id) DO NOTHING`,
        [a.tenant_id, a.id, a.host_id ?? '', a.rule.id, a.rule.level, status, until, a.first_seen, a.last_seen, JSON.stringify(a), now]);
        if (r.rowCount === 1) {
          stored.push({ ...a, status, assignee: null, close_reason: null, suppressed_until: until, comments: [], updated_at: now });
        } else await this.mergeRepeat(client, a, now);
      }
      return stored;
    });
  }

  /** A repeat of a stored alert (same id) widens it and counts one more occurrence; a re-delivery changes nothing. */
  private async mergeRepeat(db: Queryable, repeat: Alert, now: string): Promise<void> {
    const r = await db.query<{ doc: Alert }>('SELECT doc FROM alerts WHERE tenant_id = $1 AND id = $2 FOR UPDATE', [repeat.tenant_id, repeat.id]);
    const merged = r.rows[0] && mergeRepeat(r.rows[0].doc, repeat);
    if (!merged) return;
    await db.query('UPDATE alerts SET first_seen = $1, last_seen = $2, doc = $3, updated_at = $4 WHERE tenant_id = $5 AND id = $6',
      [merged.first_seen, merged.last_seen, JSON.stringify(merged), now, repeat.tenant_id, repeat.id]);
  }

  private async activeSuppression(db: Queryable, tenantId: string, ruleId: string, hostId: string, now: string): Promise<string | null> {
    const r = await db.query<{ until: string | null }>(`SELECT MAX(until) AS until FROM alert_suppressions
      WHERE tenant_id = $1 AND rule_id = $2 AND host_id = $3 AND until > $4`, [tenantId, ruleId, hostId, now]);
    return r.rows[0]?.until ?? null;
  }

  async list(q: AlertQuery): Promise<{ alerts: StoredAlert[]; next: string | null }> {
    const params: unknown[] = [q.tenantId];
    const where = ['tenant_id = $1'];
    const param = (v: unknown) => `$${params.push(v)}`;
    if (q.severities?.length) where.push(`level = ANY(${param(q.severities)})`);
    if (q.statuses?.length) where.push(`status = ANY(${param(q.statuses)})`);
    if (q.hostId) where.push(`host_id = ${param(q.hostId)}`);
    if (q.ruleId) where.push(`rule_id = ${param(q.ruleId)}`);
    if (q.processEntityId) where.push(`doc->>'process_entity_id' = ${param(q.processEntityId)}`);
    if (q.from) where.push(`last_seen >= ${param(q.from.toISOString())}`);
    if (q.to) where.push(`last_seen < ${param(q.to.toISOString())}`);
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
      ...r.doc, status: r.status as AlertStatus, assignee: r.assignee, close_reason: r.close_reason, suppressed_until: r.suppressed_until,
      comments: (byAlert.get(r.id) ?? []).map(({ author, text, at }) => ({ author, text, at })), updated_at: r.updated_at,
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
        case 'close': await update("status = 'closed', close_reason = $1", [t.reason]); break;
        case 'suppress':
          await update("status = 'suppressed', suppressed_until = $1", [t.until.toISOString()]);
          await client.query(`INSERT INTO alert_suppressions (tenant_id, rule_id, host_id, until, reason, created_by, created_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7)`, [tenantId, alert.rule.id, alert.host_id ?? '', t.until.toISOString(), t.reason, actor, now]);
          break;
        case 'comment':
          await client.query('INSERT INTO alert_comments (tenant_id, alert_id, author, text, at) VALUES ($1, $2, $3, $4, $5)', [tenantId, id, actor, t.text, now]);
          await update('status = status');
          break;
      }
    });
    return this.get(tenantId, id);
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

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}
