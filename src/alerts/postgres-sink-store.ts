// Alert sinks on PostgreSQL (scale-out: every API process reads and changes the same sinks, and whichever
// process delivers an alert finds its tenant's sinks). Same rows and semantics as the SQLite store.
// Parameterised queries only.

import type pg from 'pg';
import { openMigratedPool } from '../stores/postgres-migrations.ts';
import { fromRow, newSinkId, viewOf, type AlertSink, type AlertSinkStore, type AlertSinkView, type SinkRow } from './sink-store.ts';

const MIGRATION_LOCK = 0x73_696e_6b; // 'sink'

const MIGRATIONS: string[][] = [[
  `CREATE TABLE alert_sinks (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, name TEXT NOT NULL, url TEXT NOT NULL, secret TEXT,
    created_by TEXT NOT NULL, created_at BIGINT NOT NULL)`,
  'CREATE INDEX alert_sinks_by_tenant ON alert_sinks (tenant_id, created_at, id)',
]];

export class PostgresAlertSinkStore implements AlertSinkStore {
  private readonly pool: pg.Pool;

  private constructor(pool: pg.Pool) {
    this.pool = pool;
  }

  static async open(o: pg.PoolConfig): Promise<PostgresAlertSinkStore> {
    return new PostgresAlertSinkStore(await openMigratedPool(o, 3, 'alert_sink_migrations', MIGRATION_LOCK, MIGRATIONS));
  }

  async create(s: Omit<AlertSink, 'id'>): Promise<AlertSink> {
    const sink = { ...s, id: newSinkId() };
    await this.pool.query('INSERT INTO alert_sinks (id, tenant_id, name, url, secret, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
      [sink.id, sink.tenantId, sink.name, sink.url, sink.secret, sink.createdBy, sink.createdAt]);
    return sink;
  }

  async forTenant(tenantId: string): Promise<AlertSink[]> {
    return (await this.pool.query<SinkRow>('SELECT * FROM alert_sinks WHERE tenant_id = $1 ORDER BY created_at, id COLLATE "C"', [tenantId])).rows.map(fromRow);
  }

  async list(tenantId: string): Promise<AlertSinkView[]> {
    return (await this.forTenant(tenantId)).map(viewOf);
  }

  async delete(tenantId: string, id: string): Promise<boolean> {
    return (await this.pool.query('DELETE FROM alert_sinks WHERE tenant_id = $1 AND id = $2', [tenantId, id])).rowCount === 1;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
