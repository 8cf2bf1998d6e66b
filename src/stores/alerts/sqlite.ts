// The alert store on SQLite (node:sqlite), the embedded server's: one row per alert with its full document
// as JSON beside the columns that filters and triage use; comments and suppressions in their own tables. A
// repeat of a stored alert (same id: the same rule on the same process within the window) is merged into it.
// Parameterised statements only.

import { DatabaseSync } from 'node:sqlite';
import { migrateSqlite } from '../sqlite-migrations.ts';
import { mergeRepeat, type Alert } from '../../detect/alerts.ts';
import { bucketTime, type AlertComment, type AlertCounts, type AlertQuery, type AlertStatus, type AlertStore, type LevelBucket, type StoredAlert, type TriageAction } from './types.ts';

const MIGRATIONS: string[][] = [[
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
]];

/** Weight of an alert's level in a host's risk score. */
export const LEVEL_RISK: Record<string, number> = { informational: 0, low: 1, medium: 3, high: 7, critical: 10 };

interface Row {
  doc: string; status: string; assignee: string | null; close_reason: string | null;
  suppressed_until: string | null; updated_at: string; id: string; last_seen: string;
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
      (tenant_id, id, host_id, rule_id, level, status, suppressed_until, first_seen, last_seen, doc, updated_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    const now = new Date().toISOString();
    const stored: StoredAlert[] = [];
    this.db.exec('BEGIN');
    try {
      for (const a of alerts) {
        const until = this.activeSuppression(a.tenant_id, a.rule.id, a.host_id ?? '', now);
        const status: AlertStatus = until ? 'suppressed' : 'open';
        const r = insert.run(a.tenant_id, a.id, a.host_id ?? '', a.rule.id, a.rule.level, status, until, a.first_seen, a.last_seen, JSON.stringify(a), now);
        if (Number(r.changes) === 1) {
          stored.push({ ...a, status, assignee: null, close_reason: null, suppressed_until: until, comments: [], updated_at: now });
        } else this.mergeRepeat(a, now);
      }
      this.db.exec('COMMIT');
    } catch (err) {
      this.db.exec('ROLLBACK');
      throw err;
    }
    return stored;
  }

  /** A repeat of a stored alert (same id) widens it and counts one more occurrence; a re-delivery changes nothing. */
  private mergeRepeat(repeat: Alert, now: string): void {
    const row = this.db.prepare('SELECT doc FROM alerts WHERE tenant_id = ? AND id = ?').get(repeat.tenant_id, repeat.id) as { doc: string } | undefined;
    const merged = row && mergeRepeat(JSON.parse(row.doc) as Alert, repeat);
    if (!merged) return;
    this.db.prepare('UPDATE alerts SET first_seen = ?, last_seen = ?, doc = ?, updated_at = ? WHERE tenant_id = ? AND id = ?')
      .run(merged.first_seen, merged.last_seen, JSON.stringify(merged), now, repeat.tenant_id, repeat.id);
  }

  private activeSuppression(tenantId: string, ruleId: string, hostId: string, now: string): string | null {
    const row = this.db.prepare(`SELECT MAX(until) AS until FROM alert_suppressions
      WHERE tenant_id = ? AND rule_id = ? AND host_id = ? AND until > ?`).get(tenantId, ruleId, hostId, now) as { until: string | null } | undefined;
    return row?.until ?? null;
  }

  async list(q: AlertQuery): Promise<{ alerts: StoredAlert[]; next: string | null }> {
    const where = ['tenant_id = ?'];
    const params: (string | number)[] = [q.tenantId];
    const anyOf = (column: string, values: string[] | undefined) => {
      if (!values?.length) return;
      where.push(`${column} IN (${values.map(() => '?').join(', ')})`);
      params.push(...values);
    };
    anyOf('level', q.severities);
    anyOf('status', q.statuses);
    if (q.hostId) { where.push('host_id = ?'); params.push(q.hostId); }
    if (q.ruleId) { where.push('rule_id = ?'); params.push(q.ruleId); }
    if (q.processEntityId) { where.push("json_extract(doc, '$.process_entity_id') = ?"); params.push(q.processEntityId); }
    if (q.from) { where.push('last_seen >= ?'); params.push(q.from.toISOString()); }
    if (q.to) { where.push('last_seen < ?'); params.push(q.to.toISOString()); }
    if (q.cursor) {
      const [lastSeen, id] = decodeCursor(q.cursor);
      where.push('(last_seen < ? OR (last_seen = ? AND id < ?))');
      params.push(lastSeen, lastSeen, id);
    }
    const rows = this.db.prepare(`SELECT id, doc, status, assignee, close_reason, suppressed_until, updated_at, last_seen FROM alerts
      WHERE ${where.join(' AND ')} ORDER BY last_seen DESC, id DESC LIMIT ?`).all(...params, q.limit + 1) as unknown as Row[];
    const page = rows.slice(0, q.limit);
    const next = rows.length > q.limit ? encodeCursor(page.at(-1)!.last_seen, page.at(-1)!.id) : null;
    return { alerts: page.map((r) => this.view(q.tenantId, r)), next };
  }

  async get(tenantId: string, id: string): Promise<StoredAlert | undefined> {
    const row = this.db.prepare(`SELECT id, doc, status, assignee, close_reason, suppressed_until, updated_at, last_seen FROM alerts
      WHERE tenant_id = ? AND id = ?`).get(tenantId, id) as unknown as Row | undefined;
    return row ? this.view(tenantId, row) : undefined;
  }

  private view(tenantId: string, r: Row): StoredAlert {
    const comments = this.db.prepare('SELECT author, text, at FROM alert_comments WHERE tenant_id = ? AND alert_id = ? ORDER BY at, rowid')
      .all(tenantId, r.id) as unknown as AlertComment[];
    return {
      ...(JSON.parse(r.doc) as Alert), status: r.status as AlertStatus, assignee: r.assignee, close_reason: r.close_reason,
      suppressed_until: r.suppressed_until, comments, updated_at: r.updated_at,
    };
  }

  async triage(tenantId: string, id: string, actor: string, t: TriageAction): Promise<StoredAlert | undefined> {
    const alert = await this.get(tenantId, id);
    if (!alert) return undefined;
    const now = new Date().toISOString();
    const set = (sql: string, ...params: (string | null)[]) =>
      this.db.prepare(`UPDATE alerts SET ${sql}, updated_at = ? WHERE tenant_id = ? AND id = ?`).run(...params, now, tenantId, id);
    switch (t.action) {
      case 'acknowledge': set("status = CASE WHEN status = 'open' THEN 'acknowledged' ELSE status END"); break;
      case 'assign': set('assignee = ?', t.assignee); break;
      case 'close': set("status = 'closed', close_reason = ?", t.reason); break;
      case 'suppress':
        set("status = 'suppressed', suppressed_until = ?", t.until.toISOString());
        this.db.prepare(`INSERT INTO alert_suppressions (tenant_id, rule_id, host_id, until, reason, created_by, created_at)
          VALUES (?, ?, ?, ?, ?, ?, ?)`).run(tenantId, alert.rule.id, alert.host_id ?? '', t.until.toISOString(), t.reason, actor, now);
        break;
      case 'comment':
        this.db.prepare('INSERT INTO alert_comments (tenant_id, alert_id, author, text, at) VALUES (?, ?, ?, ?, ?)').run(tenantId, id, actor, t.text, now);
        set('status = status');
        break;
    }
    return this.get(tenantId, id);
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

  async close(): Promise<void> {
    this.db.close();
  }
}
