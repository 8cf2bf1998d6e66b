// Alert sinks, their health and the delivery outbox on the shared SQL layer, in the metadata store's database
// (embedded: <data-dir>/metadata.db on SQLite; scale-out: the PostgreSQL database every API process shares).
// Secrets are sealed (src/alerts/secret-box.ts) before they are written. The outbox holds one row per sink and
// alert (UNIQUE: queued once, whoever queues it); a worker leases due rows (PostgreSQL: FOR UPDATE SKIP LOCKED, so
// API processes never take the same row; SQLite: the write lock) and settles them under its lease, so a row whose
// worker died is taken again once the lease ends (at-least-once). Parameterised SQL only.

import { bucketAt, type BucketState } from '../../alerts/policy.ts';
import type { SecretBox } from '../../alerts/secret-box.ts';
import {
  emptyHealth, newDeliveryId, newSinkId,
  type AlertSink, type AlertSinkStore, type AlertSinkView, type BreakerState, type BreakerUpdate, type Delivery, type DeliveryState,
  type AlertRef, type EnqueueItem, type EnqueueResult, type NewAlertSink, type Outcome, type OutboxRetention, type OutboxStore, type PruneResult,
  type SinkHealth, type SinkPatch,
} from '../../alerts/sink.ts';
import type { Migration, SqlDb, SqlQuerier, SqlRow } from '../sql/sql-db.ts';

const MIGRATION_LOCK = 0x61_6c_73_6b; // 'alsk'
const LOCK_SPACE = 0x61_6c_72_70; // 'alrp': repeats of a rule on a host, per sink

const MIGRATIONS: Migration[] = [
  [
    // The webhook-only table of earlier versions (kept when it exists: PostgreSQL deployments upgrade in place).
    `CREATE TABLE IF NOT EXISTS alert_sinks (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, name TEXT NOT NULL, url TEXT NOT NULL, secret TEXT,
      created_by TEXT NOT NULL, created_at BIGINT NOT NULL)`,
    'CREATE INDEX IF NOT EXISTS alert_sinks_by_tenant ON alert_sinks (tenant_id, created_at, id)',
  ],
  [
    "ALTER TABLE alert_sinks ADD COLUMN type TEXT NOT NULL DEFAULT 'webhook'",
    "ALTER TABLE alert_sinks ADD COLUMN format TEXT NOT NULL DEFAULT 'vigil'",
    "ALTER TABLE alert_sinks ADD COLUMN filters TEXT NOT NULL DEFAULT '{}'",
    'ALTER TABLE alert_sinks ADD COLUMN template TEXT',
    "ALTER TABLE alert_sinks ADD COLUMN options TEXT NOT NULL DEFAULT '{}'",
    'ALTER TABLE alert_sinks ADD COLUMN secret_sealed TEXT',
    'ALTER TABLE alert_sinks ADD COLUMN enabled INTEGER NOT NULL DEFAULT 1',
    'ALTER TABLE alert_sinks ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0',
    `CREATE TABLE alert_sink_health (sink_id TEXT PRIMARY KEY, last_success_at BIGINT, last_error_at BIGINT, last_error TEXT,
      breaker TEXT NOT NULL DEFAULT 'closed', breaker_until BIGINT, failures INTEGER NOT NULL DEFAULT 0)`,
    `CREATE TABLE alert_outbox (id TEXT PRIMARY KEY, sink_id TEXT NOT NULL, tenant_id TEXT NOT NULL, alert_id TEXT NOT NULL,
      rule_id TEXT NOT NULL, host_id TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at BIGINT NOT NULL,
      lease_owner TEXT, lease_until BIGINT, created_at BIGINT NOT NULL, delivered_at BIGINT, last_error TEXT, payload TEXT NOT NULL,
      UNIQUE (sink_id, alert_id))`,
    'CREATE INDEX alert_outbox_due ON alert_outbox (state, sink_id, next_at)',
    'CREATE INDEX alert_outbox_repeats ON alert_outbox (sink_id, rule_id, host_id, created_at)',
    'CREATE INDEX alert_outbox_by_alert ON alert_outbox (tenant_id, alert_id)',
    'CREATE INDEX alert_outbox_by_sink ON alert_outbox (sink_id, created_at)',
  ],
  [
    // An alert handed to the outbox (rows for its matching sinks, or none), marked in the same transaction.
    'CREATE TABLE alert_outbox_marks (tenant_id TEXT NOT NULL, alert_id TEXT NOT NULL, marked_at BIGINT NOT NULL, PRIMARY KEY (tenant_id, alert_id))',
    'CREATE INDEX alert_outbox_marks_age ON alert_outbox_marks (marked_at)',
    // Alerts queued before marks existed are marked (else the embedded catch-up would queue them again).
    `INSERT INTO alert_outbox_marks (tenant_id, alert_id, marked_at) SELECT tenant_id, alert_id, MIN(created_at) FROM alert_outbox GROUP BY tenant_id, alert_id`,
    'CREATE INDEX alert_outbox_settled ON alert_outbox (state, created_at)',
  ],
  [
    // Each sink's token bucket, taken from in the claim's transaction: the rate holds across API processes.
    'CREATE TABLE alert_sink_rate (sink_id TEXT PRIMARY KEY, tokens DOUBLE PRECISION NOT NULL, at BIGINT NOT NULL)',
  ],
];
/** PostgreSQL advisory lock held by the process pruning the outbox (one at a time). */
export const PRUNE_LOCK = 0x61_6c_70_72; // 'alpr'

const json = <T>(v: unknown, fallback: T): T => {
  try {
    return typeof v === 'string' ? (JSON.parse(v) as T) : fallback;
  } catch {
    return fallback;
  }
};
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const placeholders = (n: number) => Array.from({ length: n }, () => '?').join(', ');

function deliveryOf(r: SqlRow): Delivery {
  return {
    id: String(r.id), sinkId: String(r.sink_id), tenantId: String(r.tenant_id), alertId: String(r.alert_id), ruleId: String(r.rule_id),
    hostId: String(r.host_id), state: String(r.state) as DeliveryState, attempts: Number(r.attempts), nextAt: Number(r.next_at),
    createdAt: Number(r.created_at), deliveredAt: numOrNull(r.delivered_at), lastError: r.last_error === null ? null : String(r.last_error),
    payload: String(r.payload),
  };
}

export class SqlAlertSinkStore implements AlertSinkStore, OutboxStore {
  private readonly db: SqlDb;
  private readonly box: SecretBox;

  private constructor(db: SqlDb, box: SecretBox) {
    this.db = db;
    this.box = box;
  }

  /** Migrates `db` and seals any secret an earlier version stored in the clear. */
  static async open(db: SqlDb, box: SecretBox): Promise<SqlAlertSinkStore> {
    await db.migrate({ table: 'alert_sink_schema', lockKey: MIGRATION_LOCK, migrations: MIGRATIONS });
    const store = new SqlAlertSinkStore(db, box);
    await store.sealPlainSecrets();
    return store;
  }

  /**
   * Seals the plain secrets of an earlier version. SQLite: freed space is zeroed and the log checkpointed, so the
   * clear text leaves the files; PostgreSQL keeps the old row versions until VACUUM (docs/alert-delivery.md).
   */
  private async sealPlainSecrets(): Promise<void> {
    const plain = await this.db.all('SELECT id, secret FROM alert_sinks WHERE secret IS NOT NULL');
    if (!plain.length) return;
    const sqlite = this.db.engine === 'sqlite';
    if (sqlite) await this.db.exec('PRAGMA secure_delete = ON');
    for (const r of plain) {
      await this.db.run('UPDATE alert_sinks SET secret_sealed = ?, secret = NULL WHERE id = ? AND secret IS NOT NULL', [this.box.seal(String(r.secret)), String(r.id)]);
    }
    if (sqlite) await this.db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  }

  /** Copies sinks of an earlier embedded alert-sinks.db (`rows` as SELECT * read them) that are not here yet. */
  async importLegacy(rows: SqlRow[]): Promise<number> {
    let n = 0;
    for (const r of rows) {
      n += await this.db.run(`INSERT INTO alert_sinks (id, tenant_id, name, url, secret_sealed, created_by, created_at, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
      [String(r.id), String(r.tenant_id), String(r.name), String(r.url), r.secret ? this.box.seal(String(r.secret)) : null, String(r.created_by), Number(r.created_at), Number(r.created_at)]);
    }
    return n;
  }

  private sinkOf(r: SqlRow): AlertSink {
    return {
      id: String(r.id), tenantId: String(r.tenant_id), name: String(r.name), type: String(r.type) as AlertSink['type'], url: String(r.url),
      format: String(r.format) as AlertSink['format'], filters: json(r.filters, {}), template: r.template === null ? null : String(r.template),
      options: json(r.options, {}), secret: r.secret_sealed ? this.box.open(String(r.secret_sealed)) : null, enabled: Number(r.enabled) === 1,
      createdBy: String(r.created_by), createdAt: Number(r.created_at), updatedAt: Number(r.updated_at),
    };
  }

  async create(s: NewAlertSink): Promise<AlertSink> {
    const sink: AlertSink = { ...s, id: newSinkId(), updatedAt: s.createdAt };
    await this.db.run(`INSERT INTO alert_sinks (id, tenant_id, name, type, url, format, filters, template, options, secret_sealed, enabled, created_by, created_at, updated_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [sink.id, sink.tenantId, sink.name, sink.type, sink.url, sink.format, JSON.stringify(sink.filters), sink.template, JSON.stringify(sink.options),
      sink.secret === null ? null : this.box.seal(sink.secret), sink.enabled ? 1 : 0, sink.createdBy, sink.createdAt, sink.updatedAt]);
    return sink;
  }

  async forTenant(tenantId: string): Promise<AlertSink[]> {
    return (await this.db.all(`SELECT * FROM alert_sinks WHERE tenant_id = ? ORDER BY created_at, id${this.db.collateC}`, [tenantId])).map((r) => this.sinkOf(r));
  }

  async get(tenantId: string | null, id: string): Promise<AlertSink | undefined> {
    const r = tenantId === null
      ? await this.db.get('SELECT * FROM alert_sinks WHERE id = ?', [id])
      : await this.db.get('SELECT * FROM alert_sinks WHERE tenant_id = ? AND id = ?', [tenantId, id]);
    return r && this.sinkOf(r);
  }

  private async viewOf({ secret, ...rest }: AlertSink): Promise<AlertSinkView> {
    return { ...rest, hasSecret: secret !== null, health: await this.health(rest.id) };
  }

  async list(tenantId: string): Promise<AlertSinkView[]> {
    return Promise.all((await this.forTenant(tenantId)).map((s) => this.viewOf(s)));
  }

  async view(tenantId: string, id: string): Promise<AlertSinkView | undefined> {
    const s = await this.get(tenantId, id);
    return s && this.viewOf(s);
  }

  async update(tenantId: string, id: string, patch: SinkPatch, at: number): Promise<AlertSink | undefined> {
    const current = await this.get(tenantId, id);
    if (!current) return undefined;
    const next: AlertSink = { ...current, ...patch, updatedAt: at };
    await this.db.run(`UPDATE alert_sinks SET name = ?, url = ?, format = ?, filters = ?, template = ?, options = ?, secret_sealed = ?, enabled = ?, updated_at = ?
      WHERE tenant_id = ? AND id = ?`,
    [next.name, next.url, next.format, JSON.stringify(next.filters), next.template, JSON.stringify(next.options),
      next.secret === null ? null : this.box.seal(next.secret), next.enabled ? 1 : 0, at, tenantId, id]);
    return next;
  }

  async delete(tenantId: string, id: string): Promise<boolean> {
    return this.db.tx(async (t) => {
      if ((await t.run('DELETE FROM alert_sinks WHERE tenant_id = ? AND id = ?', [tenantId, id])) !== 1) return false;
      await t.run('DELETE FROM alert_outbox WHERE sink_id = ?', [id]);
      await t.run('DELETE FROM alert_sink_health WHERE sink_id = ?', [id]);
      await t.run('DELETE FROM alert_sink_rate WHERE sink_id = ?', [id]);
      return true;
    });
  }

  // ---- the outbox ----

  async enqueue(items: EnqueueItem[], at: number, repeatWindowMs: number, mark?: AlertRef): Promise<EnqueueResult[]> {
    if (!items.length && !mark) return [];
    return this.db.tx(async (t) => {
      await this.db.lock(t, LOCK_SPACE, items.map((i) => `${i.sink.id}\u0000${i.ruleId}\u0000${i.hostId}`));
      const out: EnqueueResult[] = [];
      for (const i of items) out.push(await this.enqueueOne(t, i, at, repeatWindowMs));
      if (mark) {
        await t.run('INSERT INTO alert_outbox_marks (tenant_id, alert_id, marked_at) VALUES (?, ?, ?) ON CONFLICT (tenant_id, alert_id) DO NOTHING',
          [mark.tenantId, mark.alertId, at]);
      }
      return out;
    }, { retries: 3 });
  }

  async unmarked(tenantId: string, alertIds: string[]): Promise<string[]> {
    if (!alertIds.length) return [];
    const marked = new Set((await this.db.all(`SELECT alert_id FROM alert_outbox_marks WHERE tenant_id = ? AND alert_id IN (${placeholders(alertIds.length)})`,
      [tenantId, ...alertIds])).map((r) => String(r.alert_id)));
    return alertIds.filter((id) => !marked.has(id));
  }

  async prune(r: OutboxRetention, at: number, batch: number): Promise<PruneResult | 'busy'> {
    const result: PruneResult = { settled: 0, dead: 0, marks: 0 };
    const steps: [keyof PruneResult, string, number][] = [
      ['settled', "DELETE FROM alert_outbox WHERE id IN (SELECT id FROM alert_outbox WHERE state IN ('delivered', 'suppressed') AND created_at < ? LIMIT ?)", at - r.settledMs],
      ['dead', "DELETE FROM alert_outbox WHERE id IN (SELECT id FROM alert_outbox WHERE state = 'dead' AND created_at < ? LIMIT ?)", at - r.deadMs],
      ['marks', `DELETE FROM alert_outbox_marks WHERE (tenant_id, alert_id) IN (SELECT tenant_id, alert_id FROM alert_outbox_marks WHERE marked_at < ? LIMIT ?)`, at - r.settledMs],
    ];
    for (const [key, sql, before] of steps) {
      for (;;) {
        const n = await this.db.tx(async (t) => {
          if (!(await this.pruneLockTaken(t))) return -1;
          return t.run(sql, [before, batch]);
        });
        if (n < 0) return 'busy';
        result[key] += n;
        if (n < batch) break;
      }
    }
    return result;
  }

  /** PostgreSQL: whether this transaction took the pruning lock (another process holds it: false); SQLite: the write lock. */
  private async pruneLockTaken(t: SqlQuerier): Promise<boolean> {
    if (this.db.engine !== 'postgres') return true;
    return Boolean((await t.get('SELECT pg_try_advisory_xact_lock(?) AS ok', [PRUNE_LOCK]))?.ok);
  }

  /**
   * One statement: the row, `suppressed` when the sink queued or delivered an alert of the same rule and host within
   * the window (none when the host is unknown or the window 0), nothing when the sink has this alert already.
   */
  private async enqueueOne(t: SqlQuerier, i: EnqueueItem, at: number, defaultWindowMs: number): Promise<EnqueueResult> {
    const windowMs = i.hostId === '' ? 0 : i.repeatWindowMs ?? defaultWindowMs;
    const [row] = await t.all(`INSERT INTO alert_outbox (id, sink_id, tenant_id, alert_id, rule_id, host_id, state, attempts, next_at, created_at, payload)
      SELECT ?, ?, ?, ?, ?, ?, CASE WHEN ? > 0 AND EXISTS (SELECT 1 FROM alert_outbox r WHERE r.sink_id = ? AND r.rule_id = ? AND r.host_id = ?
        AND r.created_at > ? AND r.state IN ('pending', 'delivered')) THEN 'suppressed' ELSE 'pending' END, 0, ?, ?, ?
      WHERE true ON CONFLICT (sink_id, alert_id) DO NOTHING RETURNING state`,
    [newDeliveryId(), i.sink.id, i.sink.tenantId, i.alertId, i.ruleId, i.hostId, windowMs, i.sink.id, i.ruleId, i.hostId, at - windowMs, at, at, i.payload]);
    if (!row) return 'duplicate';
    return row.state === 'suppressed' ? 'suppressed' : 'queued';
  }

  /** Per sink, the first due row on the (state, sink_id, next_at) index: a backlog is not scanned. */
  async dueSinks(at: number, limit: number): Promise<string[]> {
    const rows = await this.db.all(`SELECT s.id FROM alert_sinks s WHERE EXISTS (SELECT 1 FROM alert_outbox o WHERE o.state = 'pending'
      AND o.sink_id = s.id AND o.next_at <= ? AND (o.lease_until IS NULL OR o.lease_until < ?)) LIMIT ?`, [at, at, limit]);
    return rows.map((r) => String(r.id));
  }

  async breaker(sinkId: string): Promise<Pick<SinkHealth, 'breaker' | 'breakerUntil' | 'failures'>> {
    const { breaker, breakerUntil, failures } = await this.db.read((q) => this.healthRow(q, sinkId));
    return { breaker, breakerUntil, failures };
  }

  async claim(sinkId: string, owner: string, at: number, leaseUntil: number, limit: number, perMinute: number): Promise<Delivery[]> {
    const skipLocked = this.db.engine === 'postgres' ? ' FOR UPDATE SKIP LOCKED' : '';
    return this.db.tx(async (t) => {
      const bucket = await this.bucket(t, sinkId, perMinute, at);
      const n = Math.min(limit, Math.floor(bucket.tokens));
      if (n < 1) return [];
      const ids = (await t.all(`SELECT id FROM alert_outbox WHERE sink_id = ? AND state = 'pending' AND next_at <= ?
        AND (lease_until IS NULL OR lease_until < ?) ORDER BY next_at, id${this.db.collateC} LIMIT ?${skipLocked}`, [sinkId, at, at, n])).map((r) => String(r.id));
      if (!ids.length) return [];
      await t.run('UPDATE alert_sink_rate SET tokens = ?, at = ? WHERE sink_id = ?', [bucket.tokens - ids.length, bucket.at, sinkId]);
      await t.run(`UPDATE alert_outbox SET lease_owner = ?, lease_until = ? WHERE id IN (${placeholders(ids.length)})`, [owner, leaseUntil, ...ids]);
      return (await t.all(`SELECT * FROM alert_outbox WHERE id IN (${placeholders(ids.length)}) ORDER BY next_at, id${this.db.collateC}`, ids)).map(deliveryOf);
    });
  }

  /** The sink's token bucket as it is at `at`, its row locked until the transaction ends (PostgreSQL: claims of a sink queue on it). */
  private async bucket(t: SqlQuerier, sinkId: string, perMinute: number, at: number): Promise<BucketState> {
    await t.run('INSERT INTO alert_sink_rate (sink_id, tokens, at) VALUES (?, ?, ?) ON CONFLICT (sink_id) DO NOTHING', [sinkId, perMinute, at]);
    const r = await t.get(`SELECT tokens, at FROM alert_sink_rate WHERE sink_id = ?${this.db.forUpdate}`, [sinkId]);
    return bucketAt(r && { tokens: Number(r.tokens), at: Number(r.at) }, perMinute, at);
  }

  async settle(d: Pick<Delivery, 'id' | 'sinkId'>, owner: string, outcome: Outcome, breaker: (h: SinkHealth) => BreakerUpdate): Promise<boolean> {
    return (await this.settleMany(d.sinkId, owner, [{ id: d.id, outcome }], (h) => breaker(h)))[0];
  }

  async settleMany(sinkId: string, owner: string, items: { id: string; outcome: Outcome }[], breaker: (h: SinkHealth, index: number) => BreakerUpdate): Promise<boolean[]> {
    if (!items.length) return [];
    return this.db.tx(async (t) => {
      let h = await this.healthRow(t, sinkId, true);
      const done: boolean[] = [];
      for (const [index, { id, outcome }] of items.entries()) {
        const ok = await this.settleRow(t, id, owner, outcome);
        done.push(ok);
        if (!ok) continue;
        const b = breaker(h, index);
        const delivered = outcome.kind === 'delivered';
        h = {
          ...h, ...b, lastSuccessAt: delivered ? outcome.at : h.lastSuccessAt, lastErrorAt: delivered ? h.lastErrorAt : outcome.at,
          lastError: delivered ? h.lastError : outcome.error,
        };
      }
      if (done.some(Boolean)) {
        await t.run(`INSERT INTO alert_sink_health (sink_id, last_success_at, last_error_at, last_error, breaker, breaker_until, failures) VALUES (?, ?, ?, ?, ?, ?, ?)
          ON CONFLICT (sink_id) DO UPDATE SET last_success_at = excluded.last_success_at, last_error_at = excluded.last_error_at, last_error = excluded.last_error,
          breaker = excluded.breaker, breaker_until = excluded.breaker_until, failures = excluded.failures`,
        [sinkId, h.lastSuccessAt, h.lastErrorAt, h.lastError, h.breaker, h.breakerUntil, h.failures]);
      }
      return done;
    }, { retries: 3 });
  }

  /** One outcome, if `owner` still holds the row's lease. */
  private async settleRow(t: SqlQuerier, id: string, owner: string, outcome: Outcome): Promise<boolean> {
    const mine = 'AND lease_owner = ? AND state = \'pending\'';
    const changed = outcome.kind === 'delivered'
      ? await t.run(`UPDATE alert_outbox SET state = 'delivered', attempts = attempts + 1, delivered_at = ?, last_error = NULL, lease_owner = NULL, lease_until = NULL WHERE id = ? ${mine}`, [outcome.at, id, owner])
      : outcome.kind === 'retry'
        ? await t.run(`UPDATE alert_outbox SET attempts = attempts + 1, next_at = ?, last_error = ?, lease_owner = NULL, lease_until = NULL WHERE id = ? ${mine}`, [outcome.nextAt, outcome.error, id, owner])
        : await t.run(`UPDATE alert_outbox SET state = 'dead', attempts = attempts + 1, last_error = ?, lease_owner = NULL, lease_until = NULL WHERE id = ? ${mine}`, [outcome.error, id, owner]);
    return changed === 1;
  }

  private async healthRow(q: SqlQuerier, sinkId: string, forUpdate = false): Promise<SinkHealth> {
    const r = await q.get(`SELECT * FROM alert_sink_health WHERE sink_id = ?${forUpdate ? this.db.forUpdate : ''}`, [sinkId]);
    if (!r) return emptyHealth();
    return {
      ...emptyHealth(), lastSuccessAt: numOrNull(r.last_success_at), lastErrorAt: numOrNull(r.last_error_at),
      lastError: r.last_error === null ? null : String(r.last_error), breaker: String(r.breaker) as BreakerState,
      breakerUntil: numOrNull(r.breaker_until), failures: Number(r.failures),
    };
  }

  async health(sinkId: string): Promise<SinkHealth> {
    return this.db.read(async (q) => {
      const h = await this.healthRow(q, sinkId);
      const c = await q.get(`SELECT SUM(CASE WHEN state = 'pending' THEN 1 ELSE 0 END) AS queued, SUM(CASE WHEN state = 'dead' THEN 1 ELSE 0 END) AS dead
        FROM alert_outbox WHERE sink_id = ?`, [sinkId]);
      return { ...h, queued: Number(c?.queued ?? 0), dead: Number(c?.dead ?? 0) };
    });
  }

  async takeProbe(sinkId: string, from: BreakerState, at: number, probeUntil: number): Promise<boolean> {
    return (await this.db.run(`UPDATE alert_sink_health SET breaker = 'half_open', breaker_until = ? WHERE sink_id = ? AND breaker = ?
      AND (breaker_until IS NULL OR breaker_until <= ?)`, [probeUntil, sinkId, from, at])) === 1;
  }

  async forAlert(tenantId: string, alertId: string): Promise<Delivery[]> {
    return (await this.db.all('SELECT * FROM alert_outbox WHERE tenant_id = ? AND alert_id = ? ORDER BY created_at, sink_id', [tenantId, alertId])).map(deliveryOf);
  }

  async forSink(tenantId: string, sinkId: string, state: DeliveryState | undefined, limit: number): Promise<Delivery[]> {
    const byState = state ? ' AND state = ?' : '';
    return (await this.db.all(`SELECT * FROM alert_outbox WHERE tenant_id = ? AND sink_id = ?${byState} ORDER BY created_at DESC, id DESC LIMIT ?`,
      [tenantId, sinkId, ...(state ? [state] : []), limit])).map(deliveryOf);
  }

  async replay(tenantId: string, sinkId: string, ids: string[] | undefined, at: number): Promise<number> {
    const only = ids ? ` AND id IN (${placeholders(ids.length)})` : '';
    if (ids && !ids.length) return 0;
    return this.db.run(`UPDATE alert_outbox SET state = 'pending', attempts = 0, next_at = ?, lease_owner = NULL, lease_until = NULL
      WHERE tenant_id = ? AND sink_id = ? AND state = 'dead'${only}`, [at, tenantId, sinkId, ...(ids ?? [])]);
  }

  async pendingCount(): Promise<number> {
    return Number((await this.db.get("SELECT COUNT(*) AS n FROM alert_outbox WHERE state = 'pending'"))?.n ?? 0);
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
