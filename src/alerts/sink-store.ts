// Alert sinks of each tenant: webhook destinations (name, URL, optional HMAC secret) that every new alert of the
// tenant is delivered to. The interface every implementation passes (test/conformance/alert-sink-store.test.ts):
// SQLite (node:sqlite) at <data-dir>/alert-sinks.db embedded, PostgreSQL in the scale-out roles
// (postgres-sink-store.ts). Every read is tenant-scoped. The secret is stored (it signs deliveries) and only ever
// leaves the store inside `forTenant`, for the sender.

import { randomBytes } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';

export interface AlertSink {
  id: string;
  tenantId: string;
  name: string;
  url: string;
  /** Signs each delivery (HMAC-SHA256 of the body); null when unsigned. Never returned by the API. */
  secret: string | null;
  createdBy: string;
  createdAt: number;
}

export type AlertSinkView = Omit<AlertSink, 'secret'> & { hasSecret: boolean };

export interface AlertSinkStore {
  create(s: Omit<AlertSink, 'id'>): Promise<AlertSink>;
  /** The tenant's sinks, with their secrets (for delivery), oldest first. */
  forTenant(tenantId: string): Promise<AlertSink[]>;
  list(tenantId: string): Promise<AlertSinkView[]>;
  /** False when the tenant has no such sink. */
  delete(tenantId: string, id: string): Promise<boolean>;
  close(): void | Promise<void>;
}

export interface SinkRow { id: string; tenant_id: string; name: string; url: string; secret: string | null; created_by: string; created_at: number | string }

export const fromRow = (r: SinkRow): AlertSink => ({
  id: r.id, tenantId: r.tenant_id, name: r.name, url: r.url, secret: r.secret, createdBy: r.created_by, createdAt: Number(r.created_at),
});

export const viewOf = ({ secret, ...rest }: AlertSink): AlertSinkView => ({ ...rest, hasSecret: secret !== null });

export const newSinkId = () => `snk-${randomBytes(8).toString('hex')}`;

export class SqliteAlertSinkStore implements AlertSinkStore {
  private readonly db: DatabaseSync;

  constructor(path: string) {
    this.db = new DatabaseSync(path);
    this.db.exec('PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000');
    this.db.exec(`CREATE TABLE IF NOT EXISTS alert_sinks (
      id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, name TEXT NOT NULL, url TEXT NOT NULL, secret TEXT,
      created_by TEXT NOT NULL, created_at INTEGER NOT NULL)`);
    this.db.exec('CREATE INDEX IF NOT EXISTS alert_sinks_by_tenant ON alert_sinks (tenant_id, created_at, id)');
  }

  async create(s: Omit<AlertSink, 'id'>): Promise<AlertSink> {
    const sink = { ...s, id: newSinkId() };
    this.db.prepare('INSERT INTO alert_sinks (id, tenant_id, name, url, secret, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(sink.id, sink.tenantId, sink.name, sink.url, sink.secret, sink.createdBy, sink.createdAt);
    return sink;
  }

  async forTenant(tenantId: string): Promise<AlertSink[]> {
    return (this.db.prepare('SELECT * FROM alert_sinks WHERE tenant_id = ? ORDER BY created_at, id').all(tenantId) as unknown as SinkRow[]).map(fromRow);
  }

  async list(tenantId: string): Promise<AlertSinkView[]> {
    return (await this.forTenant(tenantId)).map(viewOf);
  }

  async delete(tenantId: string, id: string): Promise<boolean> {
    return Number(this.db.prepare('DELETE FROM alert_sinks WHERE tenant_id = ? AND id = ?').run(tenantId, id).changes) === 1;
  }

  close(): void {
    this.db.close();
  }
}

/**
 * The embedded server's store under its former name (src/server/embedded.ts constructs `new AlertSinkStore(path)`):
 * the SQLite implementation. New code names `SqliteAlertSinkStore`.
 */
export const AlertSinkStore = SqliteAlertSinkStore;
