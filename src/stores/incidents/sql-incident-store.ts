// The incident store in SQL that SQLite and PostgreSQL both accept, over the shared SQL layer (../sql/; the stores
// on each engine are sqlite.ts and postgres.ts):
// tables incidents, incident_alerts (alert → incident, with what grouping and titles need of the alert),
// incident_keys (the lineage entities and events an alert is found by), incident_notes and incident_actions;
// migrations recorded in incident_schema_migrations. Times are ISO 8601 UTC text (compared as text; PostgreSQL
// columns that sort are COLLATE "C", as SQLite compares). Every change is one transaction: SQLite's are
// BEGIN IMMEDIATE on one connection, run one at a time; PostgreSQL's lock the incident rows they change
// (SELECT … FOR UPDATE, in id order) and, for grouping, take a transaction advisory lock per tenant and host, so two
// workers grouping alerts of one host wait for each other and the second sees the first's incident. Parameterised
// SQL only.

import { randomUUID } from 'node:crypto';
import { decodeCursor, encodeCursor } from '../alerts/sqlite.ts'; // the same (last seen, id) keyset cursor as the alert list
import {
  chooseIncident, correlationLookups, incidentTitle, keysOf, lineageLookups, LEVELS, titleOf, WINDOW_MS,
  type AlertFacts, type AlertKey, type Candidate, type IncidentLevel,
} from '../../incidents/grouping.ts';
import {
  IncidentError, type Assignment, type AuditHook, type Changes, type Disposition, type Incident, type IncidentAlert, type IncidentDetail,
  type IncidentNote, type IncidentPatch, type IncidentQuery, type IncidentStatus, type IncidentStore, type MoveResult,
} from './types.ts';
import type { SqlDb, SqlQuerier, SqlRow, SqlValue } from '../sql/sql-db.ts';

type Querier = SqlQuerier;
type Row = SqlRow;

export const MIGRATIONS_TABLE = 'incident_schema_migrations';
const MIGRATION_LOCK = 0x76696e63; // 'vinc': the advisory lock key of incident migrations
/** The first key of the two-key advisory locks that serialise grouping per tenant and host. */
const HOST_LOCK_CLASS = 0x76696e68; // 'vinh'

export function migrations(c: string): string[][] {
  return [[
    `CREATE TABLE incidents (
      tenant_id TEXT NOT NULL, id TEXT${c} NOT NULL, title TEXT NOT NULL, title_set INTEGER NOT NULL DEFAULT 0,
      status TEXT NOT NULL, severity TEXT NOT NULL, computed_severity TEXT NOT NULL, severity_override TEXT,
      assignee TEXT, disposition TEXT, close_reason TEXT, closed_at TEXT, closed_by TEXT,
      alert_count INTEGER NOT NULL DEFAULT 0, first_seen TEXT${c} NOT NULL, last_seen TEXT${c} NOT NULL,
      created_at TEXT${c} NOT NULL, updated_at TEXT NOT NULL,
      PRIMARY KEY (tenant_id, id))`,
    'CREATE INDEX incidents_by_time ON incidents (tenant_id, last_seen DESC, id DESC)',
    `CREATE TABLE incident_alerts (
      tenant_id TEXT NOT NULL, alert_id TEXT${c} NOT NULL, incident_id TEXT NOT NULL, host_id TEXT NOT NULL, hostname TEXT NOT NULL,
      level TEXT NOT NULL, rule_id TEXT NOT NULL, rule_title TEXT NOT NULL, first_seen TEXT${c} NOT NULL, last_seen TEXT${c} NOT NULL,
      added_by TEXT NOT NULL, added_at TEXT NOT NULL,
      PRIMARY KEY (tenant_id, alert_id))`,
    'CREATE INDEX incident_alerts_by_incident ON incident_alerts (tenant_id, incident_id)',
    'CREATE INDEX incident_alerts_by_host ON incident_alerts (tenant_id, host_id, incident_id)',
    `CREATE TABLE incident_keys (
      tenant_id TEXT NOT NULL, host_id TEXT NOT NULL, lkey TEXT NOT NULL, alert_id TEXT NOT NULL, incident_id TEXT NOT NULL,
      PRIMARY KEY (tenant_id, host_id, lkey, alert_id))`,
    'CREATE INDEX incident_keys_by_alert ON incident_keys (tenant_id, alert_id)',
    `CREATE TABLE incident_notes (
      tenant_id TEXT NOT NULL, incident_id TEXT NOT NULL, seq INTEGER NOT NULL, author TEXT NOT NULL, text TEXT NOT NULL, at TEXT NOT NULL,
      PRIMARY KEY (tenant_id, incident_id, seq))`,
    `CREATE TABLE incident_actions (
      tenant_id TEXT NOT NULL, incident_id TEXT NOT NULL, action_id TEXT${c} NOT NULL, linked_by TEXT NOT NULL, linked_at TEXT NOT NULL,
      PRIMARY KEY (tenant_id, incident_id, action_id))`,
  ]];
}

const RANK_SQL = `CASE level WHEN 'critical' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2 WHEN 'low' THEN 1 ELSE 0 END`;
const iso = (t: string | number | Date) => new Date(t).toISOString();
const str = (v: unknown) => (v === null || v === undefined ? null : String(v));
const placeholders = (n: number) => Array.from({ length: n }, () => '?').join(', ');


function normalised(f: AlertFacts): AlertFacts {
  return { ...f, first_seen: iso(f.first_seen), last_seen: iso(f.last_seen) };
}

export class SqlIncidentStore implements IncidentStore {
  protected readonly db: SqlDb;

  constructor(db: SqlDb) {
    this.db = db;
  }

  async migrate(): Promise<void> {
    await this.db.migrate({ table: MIGRATIONS_TABLE, lockKey: MIGRATION_LOCK, migrations: migrations(this.db.collateC) });
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  // ---- grouping ------------------------------------------------------------------------------------------------

  async assign(input: AlertFacts[]): Promise<Assignment[]> {
    if (input.length === 0) return [];
    const alerts = input.map(normalised).sort((a, b) => (a.first_seen < b.first_seen ? -1 : a.first_seen > b.first_seen ? 1 : 0));
    const locks = new Set<string>();
    for (const a of alerts) {
      locks.add(`${a.tenant_id}\u0000${a.host_id}`);
      if (a.correlation) locks.add(`${a.tenant_id}\u0000`);
    }
    return this.db.tx(async (q) => {
      await this.db.lock(q, HOST_LOCK_CLASS, [...locks]);
      const now = iso(Date.now());
      const out: Assignment[] = [];
      const touched = new Set<string>();
      for (const a of alerts) {
        const known = await q.all('SELECT incident_id, first_seen, last_seen FROM incident_alerts WHERE tenant_id = ? AND alert_id = ?', [a.tenant_id, a.id]);
        if (known.length > 0) {
          const incidentId = String(known[0].incident_id);
          await q.run(`UPDATE incident_alerts SET first_seen = CASE WHEN first_seen < ? THEN first_seen ELSE ? END,
            last_seen = CASE WHEN last_seen > ? THEN last_seen ELSE ? END WHERE tenant_id = ? AND alert_id = ?`,
          [a.first_seen, a.first_seen, a.last_seen, a.last_seen, a.tenant_id, a.id]);
          await this.widen(q, a.tenant_id, incidentId, a, now, true);
          out.push({ alert_id: a.id, incident_id: incidentId, outcome: 'known' });
          continue;
        }
        const candidates = await this.candidates(q, a);
        let incidentId = chooseIncident(a, candidates);
        const outcome = incidentId ? 'joined' : 'created';
        if (!incidentId) incidentId = await this.create(q, a.tenant_id, a, now);
        else await this.widen(q, a.tenant_id, incidentId, a, now, false);
        await this.insertAlert(q, incidentId, a, 'detection', now);
        touched.add(`${a.tenant_id}\u0000${incidentId}`);
        out.push({ alert_id: a.id, incident_id: incidentId, outcome });
      }
      for (const t of touched) {
        const [tenantId, id] = t.split('\u0000');
        await this.refresh(q, tenantId, id, now);
      }
      return out;
    });
  }

  private async candidates(q: Querier, a: AlertFacts): Promise<Candidate[]> {
    const found = new Map<string, Candidate>();
    const byKey = async (keys: AlertKey[]) => {
      const byHost = new Map<string, string[]>();
      for (const k of keys) byHost.set(k.host_id, [...(byHost.get(k.host_id) ?? []), k.key]);
      for (const [host, ks] of byHost) {
        for (let i = 0; i < ks.length; i += 200) {
          const chunk = ks.slice(i, i + 200);
          const rows = await q.all(`SELECT DISTINCT i.id, i.first_seen, i.last_seen, i.created_at FROM incident_keys k
            JOIN incidents i ON i.tenant_id = k.tenant_id AND i.id = k.incident_id
            WHERE k.tenant_id = ? AND k.host_id = ? AND k.lkey IN (${placeholders(chunk.length)}) AND i.status <> 'closed'`,
          [a.tenant_id, host, ...chunk]);
          for (const r of rows) found.set(String(r.id), { id: String(r.id), first_seen: String(r.first_seen), last_seen: String(r.last_seen), created_at: String(r.created_at), via: 'key' });
        }
      }
    };
    if (a.correlation) {
      await byKey(correlationLookups(a));
      if (a.host_id) {
        const from = iso(Date.parse(a.first_seen) - WINDOW_MS);
        const to = iso(Date.parse(a.last_seen) + WINDOW_MS);
        const rows = await q.all(`SELECT DISTINCT i.id, i.first_seen, i.last_seen, i.created_at FROM incident_alerts x
          JOIN incidents i ON i.tenant_id = x.tenant_id AND i.id = x.incident_id
          WHERE x.tenant_id = ? AND x.host_id = ? AND i.status <> 'closed' AND i.last_seen >= ? AND i.first_seen <= ?`,
        [a.tenant_id, a.host_id, from, to]);
        for (const r of rows) if (!found.has(String(r.id))) found.set(String(r.id), { id: String(r.id), first_seen: String(r.first_seen), last_seen: String(r.last_seen), created_at: String(r.created_at), via: 'host' });
      }
    } else {
      await byKey(lineageLookups(a));
    }
    return [...found.values()];
  }

  private async create(q: Querier, tenantId: string, a: Pick<AlertFacts, 'level' | 'rule_title' | 'hostname' | 'host_id' | 'first_seen' | 'last_seen'>, now: string): Promise<string> {
    const id = randomUUID();
    await q.run(`INSERT INTO incidents (tenant_id, id, title, title_set, status, severity, computed_severity, alert_count, first_seen, last_seen, created_at, updated_at)
      VALUES (?, ?, ?, 0, 'open', ?, ?, 0, ?, ?, ?, ?)`,
    [tenantId, id, incidentTitle([a]), a.level, a.level, a.first_seen, a.last_seen, now, now]);
    return id;
  }

  /** Widens an incident's time span to the alert's (a closed incident keeps its own unless `evenClosed`). */
  private async widen(q: Querier, tenantId: string, id: string, a: Pick<AlertFacts, 'first_seen' | 'last_seen'>, now: string, openOnly: boolean): Promise<void> {
    await q.run(`UPDATE incidents SET first_seen = CASE WHEN first_seen < ? THEN first_seen ELSE ? END,
      last_seen = CASE WHEN last_seen > ? THEN last_seen ELSE ? END, updated_at = ?
      WHERE tenant_id = ? AND id = ?${openOnly ? " AND status <> 'closed'" : ''}`,
    [a.first_seen, a.first_seen, a.last_seen, a.last_seen, now, tenantId, id]);
  }

  private async insertAlert(q: Querier, incidentId: string, a: AlertFacts, by: string, now: string): Promise<void> {
    await q.run(`INSERT INTO incident_alerts (tenant_id, alert_id, incident_id, host_id, hostname, level, rule_id, rule_title, first_seen, last_seen, added_by, added_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [a.tenant_id, a.id, incidentId, a.host_id, a.hostname, a.level, a.rule_id, a.rule_title, a.first_seen, a.last_seen, by, now]);
    for (const k of keysOf(a)) {
      await q.run('INSERT INTO incident_keys (tenant_id, host_id, lkey, alert_id, incident_id) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
        [a.tenant_id, k.host_id, k.key, a.id, incidentId]);
    }
  }

  /** Recomputes an incident's count, severity, time span and (unless set by someone) title from its alerts. */
  private async refresh(q: Querier, tenantId: string, id: string, now: string): Promise<void> {
    const [agg] = await q.all(`SELECT CAST(COUNT(*) AS INTEGER) AS n, MIN(first_seen) AS f, MAX(last_seen) AS l, MAX(${RANK_SQL}) AS r,
      CAST(COUNT(DISTINCT host_id) AS INTEGER) AS hosts FROM incident_alerts WHERE tenant_id = ? AND incident_id = ?`, [tenantId, id]);
    const n = Number(agg.n);
    if (n === 0) {
      await q.run('UPDATE incidents SET alert_count = 0, updated_at = ? WHERE tenant_id = ? AND id = ?', [now, tenantId, id]);
      return;
    }
    const computed = LEVELS[Number(agg.r ?? 0)];
    const top = await q.all(`SELECT rule_title, hostname, host_id, level, first_seen FROM incident_alerts WHERE tenant_id = ? AND incident_id = ?
      ORDER BY ${RANK_SQL} DESC, first_seen, alert_id LIMIT 1`, [tenantId, id]);
    const t = top[0];
    const title = titleOf({ rule_title: String(t.rule_title), hostname: String(t.hostname), host_id: String(t.host_id) }, n, Number(agg.hosts));
    await q.run(`UPDATE incidents SET alert_count = ?, computed_severity = ?, severity = COALESCE(severity_override, ?), first_seen = ?, last_seen = ?,
      title = CASE WHEN title_set = 1 THEN title ELSE ? END, updated_at = ? WHERE tenant_id = ? AND id = ?`,
    [n, computed, computed, String(agg.f), String(agg.l), title, now, tenantId, id]);
  }

  // ---- reads ---------------------------------------------------------------------------------------------------

  private view(r: Row, hosts: string[]): Incident {
    return {
      id: String(r.id), tenant_id: String(r.tenant_id), title: String(r.title), title_set: Number(r.title_set) === 1,
      status: String(r.status) as IncidentStatus, severity: String(r.severity) as IncidentLevel,
      computed_severity: String(r.computed_severity) as IncidentLevel, severity_override: str(r.severity_override) as IncidentLevel | null,
      assignee: str(r.assignee), disposition: str(r.disposition) as Disposition | null, close_reason: str(r.close_reason),
      closed_at: str(r.closed_at), closed_by: str(r.closed_by), alert_count: Number(r.alert_count), host_ids: hosts,
      first_seen: String(r.first_seen), last_seen: String(r.last_seen), created_at: String(r.created_at), updated_at: String(r.updated_at),
    };
  }

  private async hostsOf(q: Querier, tenantId: string, ids: string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>(ids.map((id) => [id, []]));
    if (ids.length === 0) return out;
    const rows = await q.all(`SELECT DISTINCT incident_id, host_id FROM incident_alerts WHERE tenant_id = ? AND incident_id IN (${placeholders(ids.length)})
      ORDER BY incident_id, host_id`, [tenantId, ...ids]);
    for (const r of rows) if (r.host_id) out.get(String(r.incident_id))?.push(String(r.host_id));
    return out;
  }

  async list(qy: IncidentQuery): Promise<{ incidents: Incident[]; next: string | null; total: number }> {
    const where = ['i.tenant_id = ?'];
    const params: SqlValue[] = [qy.tenantId];
    if (qy.statuses?.length) { where.push(`i.status IN (${placeholders(qy.statuses.length)})`); params.push(...qy.statuses); }
    if (qy.severities?.length) { where.push(`i.severity IN (${placeholders(qy.severities.length)})`); params.push(...qy.severities); }
    if (qy.assignee === null) where.push('i.assignee IS NULL');
    else if (qy.assignee !== undefined) { where.push('i.assignee = ?'); params.push(qy.assignee); }
    if (qy.hostId !== undefined) {
      where.push('EXISTS (SELECT 1 FROM incident_alerts x WHERE x.tenant_id = i.tenant_id AND x.incident_id = i.id AND x.host_id = ?)');
      params.push(qy.hostId);
    }
    const page = [...where];
    const pageParams = [...params];
    if (qy.cursor) {
      const [lastSeen, id] = decodeCursor(qy.cursor);
      page.push('(i.last_seen < ? OR (i.last_seen = ? AND i.id < ?))');
      pageParams.push(lastSeen, lastSeen, id);
    }
    return this.db.read(async (q) => {
      const rows = await q.all(`SELECT i.* FROM incidents i WHERE ${page.join(' AND ')} ORDER BY i.last_seen DESC, i.id DESC LIMIT ?`, [...pageParams, qy.limit + 1]);
      const [count] = await q.all(`SELECT CAST(COUNT(*) AS INTEGER) AS n FROM incidents i WHERE ${where.join(' AND ')}`, params);
      const items = rows.slice(0, qy.limit);
      const hosts = await this.hostsOf(q, qy.tenantId, items.map((r) => String(r.id)));
      const last = items.at(-1);
      return {
        incidents: items.map((r) => this.view(r, hosts.get(String(r.id)) ?? [])),
        next: rows.length > qy.limit && last ? encodeCursor(String(last.last_seen), String(last.id)) : null,
        total: Number(count.n),
      };
    });
  }

  private async detail(q: Querier, tenantId: string, id: string): Promise<IncidentDetail | undefined> {
    const [r] = await q.all('SELECT * FROM incidents WHERE tenant_id = ? AND id = ?', [tenantId, id]);
    if (!r) return undefined;
    const hosts = await this.hostsOf(q, tenantId, [id]);
    const alertIds = (await q.all('SELECT alert_id FROM incident_alerts WHERE tenant_id = ? AND incident_id = ? ORDER BY first_seen, alert_id', [tenantId, id])).map((x) => String(x.alert_id));
    const actionIds = (await q.all('SELECT action_id FROM incident_actions WHERE tenant_id = ? AND incident_id = ? ORDER BY linked_at, action_id', [tenantId, id])).map((x) => String(x.action_id));
    const notes = (await q.all('SELECT author, text, at FROM incident_notes WHERE tenant_id = ? AND incident_id = ? ORDER BY seq', [tenantId, id]))
      .map((x) => ({ author: String(x.author), text: String(x.text), at: String(x.at) }));
    return { ...this.view(r, hosts.get(id) ?? []), alert_ids: alertIds, action_ids: actionIds, notes };
  }

  get(tenantId: string, id: string): Promise<IncidentDetail | undefined> {
    return this.db.read((q) => this.detail(q, tenantId, id));
  }

  async incidentOfAlert(tenantId: string, alertId: string): Promise<string | undefined> {
    const rows = await this.db.read((q) => q.all('SELECT incident_id FROM incident_alerts WHERE tenant_id = ? AND alert_id = ?', [tenantId, alertId]));
    return rows.length ? String(rows[0].incident_id) : undefined;
  }

  async alerts(tenantId: string, id: string, limit: number): Promise<IncidentAlert[]> {
    const rows = await this.db.read((q) => q.all(`SELECT * FROM incident_alerts WHERE tenant_id = ? AND incident_id = ? ORDER BY first_seen, alert_id LIMIT ?`, [tenantId, id, limit]));
    return rows.map((r) => ({
      alert_id: String(r.alert_id), host_id: String(r.host_id), hostname: String(r.hostname), level: String(r.level) as IncidentLevel,
      rule_id: String(r.rule_id), rule_title: String(r.rule_title), first_seen: String(r.first_seen), last_seen: String(r.last_seen),
      added_by: String(r.added_by), added_at: String(r.added_at),
    }));
  }

  // ---- changes -------------------------------------------------------------------------------------------------

  /** Locks the incidents (in id order) and returns their rows; not_found unless every one exists in the tenant. */
  private async lock(q: Querier, tenantId: string, ids: string[]): Promise<Map<string, Row>> {
    const sorted = [...new Set(ids)].sort();
    const rows = await q.all(`SELECT * FROM incidents WHERE tenant_id = ? AND id IN (${placeholders(sorted.length)}) ORDER BY id${this.db.forUpdate}`, [tenantId, ...sorted]);
    return new Map(rows.map((r) => [String(r.id), r]));
  }

  private async locked(q: Querier, tenantId: string, id: string): Promise<Row> {
    const r = (await this.lock(q, tenantId, [id])).get(id);
    if (!r) throw new IncidentError('not_found', 'no such incident');
    return r;
  }

  private async done(q: Querier, tenantId: string, id: string): Promise<IncidentDetail> {
    return (await this.detail(q, tenantId, id))!;
  }

  update(tenantId: string, id: string, patch: IncidentPatch, actor: string, audit: AuditHook): Promise<IncidentDetail> {
    void actor;
    return this.db.tx(async (q) => {
      const r = await this.locked(q, tenantId, id);
      if (r.status === 'closed') throw new IncidentError('incident_closed', 'the incident is closed; reopen it first');
      const changes: Changes = {};
      const sets: string[] = [];
      const args: SqlValue[] = [];
      const change = (field: string, column: string, from: SqlValue, to: SqlValue) => {
        if (from === to) return;
        changes[field] = { from, to };
        sets.push(`${column} = ?`);
        args.push(to);
      };
      if (patch.status !== undefined) change('status', 'status', String(r.status), patch.status);
      if (patch.assignee !== undefined) change('assignee', 'assignee', str(r.assignee), patch.assignee);
      if (patch.title !== undefined && patch.title !== r.title) {
        change('title', 'title', String(r.title), patch.title);
        sets.push('title_set = 1');
      }
      if (patch.severity !== undefined) {
        change('severity_override', 'severity_override', str(r.severity_override), patch.severity);
        const severity = patch.severity ?? String(r.computed_severity);
        if (severity !== r.severity) { changes.severity = { from: String(r.severity), to: severity }; sets.push('severity = ?'); args.push(severity); }
      }
      if (sets.length === 0) return this.done(q, tenantId, id);
      await audit(changes);
      await q.run(`UPDATE incidents SET ${sets.join(', ')}, updated_at = ? WHERE tenant_id = ? AND id = ?`, [...args, iso(Date.now()), tenantId, id]);
      return this.done(q, tenantId, id);
    });
  }

  addNote(tenantId: string, id: string, note: IncidentNote, audit: AuditHook): Promise<IncidentDetail> {
    return this.db.tx(async (q) => {
      await this.locked(q, tenantId, id);
      const [m] = await q.all('SELECT CAST(COALESCE(MAX(seq), 0) AS INTEGER) AS s FROM incident_notes WHERE tenant_id = ? AND incident_id = ?', [tenantId, id]);
      await audit({ text: note.text });
      await q.run('INSERT INTO incident_notes (tenant_id, incident_id, seq, author, text, at) VALUES (?, ?, ?, ?, ?, ?)', [tenantId, id, Number(m.s) + 1, note.author, note.text, iso(note.at)]);
      await q.run('UPDATE incidents SET updated_at = ? WHERE tenant_id = ? AND id = ?', [iso(Date.now()), tenantId, id]);
      return this.done(q, tenantId, id);
    });
  }

  closeIncident(tenantId: string, id: string, c: { disposition: Disposition; reason: string; actor: string }, audit: AuditHook): Promise<IncidentDetail> {
    return this.db.tx(async (q) => {
      const r = await this.locked(q, tenantId, id);
      if (r.status === 'closed') throw new IncidentError('incident_closed', 'the incident is closed already');
      await audit({ from_status: String(r.status), disposition: c.disposition, reason: c.reason });
      const now = iso(Date.now());
      await q.run(`UPDATE incidents SET status = 'closed', disposition = ?, close_reason = ?, closed_at = ?, closed_by = ?, updated_at = ? WHERE tenant_id = ? AND id = ?`,
        [c.disposition, c.reason, now, c.actor, now, tenantId, id]);
      return this.done(q, tenantId, id);
    });
  }

  reopen(tenantId: string, id: string, c: { reason?: string; actor: string }, audit: AuditHook): Promise<IncidentDetail> {
    return this.db.tx(async (q) => {
      const r = await this.locked(q, tenantId, id);
      if (r.status !== 'closed') throw new IncidentError('incident_not_closed', 'only a closed incident can be reopened');
      await audit({ reason: c.reason ?? null, disposition: str(r.disposition), close_reason: str(r.close_reason), closed_by: str(r.closed_by) });
      await q.run(`UPDATE incidents SET status = 'open', disposition = NULL, close_reason = NULL, closed_at = NULL, closed_by = NULL, updated_at = ? WHERE tenant_id = ? AND id = ?`,
        [iso(Date.now()), tenantId, id]);
      return this.done(q, tenantId, id);
    });
  }

  moveAlerts(tenantId: string, id: string, m: { add: AlertFacts[]; remove: string[]; actor: string }, audit: AuditHook): Promise<MoveResult> {
    return this.db.tx(async (q) => {
      const add = m.add.map(normalised).filter((a) => !m.remove.includes(a.id));
      const now = iso(Date.now());
      const previous = new Map<string, string>();
      for (const a of add) {
        if (a.tenant_id !== tenantId) throw new IncidentError('unknown_alert', `no such alert '${a.id}'`);
        const [x] = await q.all('SELECT incident_id FROM incident_alerts WHERE tenant_id = ? AND alert_id = ?', [tenantId, a.id]);
        if (x && String(x.incident_id) !== id) previous.set(a.id, String(x.incident_id));
      }
      const rows = await this.lock(q, tenantId, [id, ...previous.values()]);
      const target = rows.get(id);
      if (!target) throw new IncidentError('not_found', 'no such incident');
      if (target.status === 'closed') throw new IncidentError('incident_closed', 'the incident is closed; reopen it first');
      for (const alertId of m.remove) {
        const [x] = await q.all('SELECT incident_id FROM incident_alerts WHERE tenant_id = ? AND alert_id = ?', [tenantId, alertId]);
        if (!x || String(x.incident_id) !== id) throw new IncidentError('unknown_alert', `alert '${alertId}' is not in this incident`);
      }
      const added = add.map((a) => a.id);
      let splitInto: string | null = null;
      if (m.remove.length > 0) {
        const [first] = await q.all(`SELECT level, rule_title, hostname, host_id, first_seen, last_seen FROM incident_alerts WHERE tenant_id = ? AND alert_id = ?`, [tenantId, m.remove[0]]);
        splitInto = await this.create(q, tenantId, {
          level: String(first.level) as IncidentLevel, rule_title: String(first.rule_title), hostname: String(first.hostname), host_id: String(first.host_id),
          first_seen: String(first.first_seen), last_seen: String(first.last_seen),
        }, now);
      }
      // Incidents left without alerts once the moves are done.
      const leaving = new Map<string, number>();
      for (const from of previous.values()) leaving.set(from, (leaving.get(from) ?? 0) + 1);
      const emptied: string[] = [];
      for (const [from, n] of leaving) {
        const [c] = await q.all('SELECT CAST(COUNT(*) AS INTEGER) AS n FROM incident_alerts WHERE tenant_id = ? AND incident_id = ?', [tenantId, from]);
        if (Number(c.n) === n && rows.get(from)?.status !== 'closed') emptied.push(from);
      }
      await audit({ added, removed: m.remove, from: Object.fromEntries(previous), split_into: splitInto, closed: emptied });
      for (const a of add) {
        await q.run('DELETE FROM incident_alerts WHERE tenant_id = ? AND alert_id = ?', [tenantId, a.id]);
        await q.run('DELETE FROM incident_keys WHERE tenant_id = ? AND alert_id = ?', [tenantId, a.id]);
        await this.insertAlert(q, id, a, m.actor, now);
      }
      for (const alertId of m.remove) {
        await q.run('UPDATE incident_alerts SET incident_id = ?, added_by = ?, added_at = ? WHERE tenant_id = ? AND alert_id = ?', [splitInto, m.actor, now, tenantId, alertId]);
        await q.run('UPDATE incident_keys SET incident_id = ? WHERE tenant_id = ? AND alert_id = ?', [splitInto, tenantId, alertId]);
      }
      for (const x of new Set([id, ...previous.values(), ...(splitInto ? [splitInto] : [])])) await this.refresh(q, tenantId, x, now);
      for (const x of emptied) {
        await q.run(`UPDATE incidents SET status = 'closed', close_reason = ?, closed_at = ?, closed_by = ?, updated_at = ? WHERE tenant_id = ? AND id = ?`,
          [`all alerts moved to incident ${id}`, now, m.actor, now, tenantId, x]);
      }
      return { incident: await this.done(q, tenantId, id), split_into: splitInto, from: Object.fromEntries(previous), closed: emptied };
    });
  }

  linkActions(tenantId: string, id: string, m: { add: string[]; remove: string[]; actor: string }, audit: AuditHook): Promise<IncidentDetail> {
    return this.db.tx(async (q) => {
      await this.locked(q, tenantId, id);
      const now = iso(Date.now());
      await audit({ added: m.add, removed: m.remove });
      for (const a of m.add) {
        await q.run('INSERT INTO incident_actions (tenant_id, incident_id, action_id, linked_by, linked_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING', [tenantId, id, a, m.actor, now]);
      }
      for (const a of m.remove) await q.run('DELETE FROM incident_actions WHERE tenant_id = ? AND incident_id = ? AND action_id = ?', [tenantId, id, a]);
      await q.run('UPDATE incidents SET updated_at = ? WHERE tenant_id = ? AND id = ?', [now, tenantId, id]);
      return this.done(q, tenantId, id);
    });
  }
}
