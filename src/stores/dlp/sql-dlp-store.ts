// DLP data sets per tenant over the shared SQL layer (SQLite embedded, PostgreSQL at scale): each tenant's
// fingerprint key (32 random bytes, made on first use), and each data set's description (name, columns with
// types, rows, fingerprint count and bytes) with its serialised fingerprint set. The uploaded CSV is never stored:
// only the keyed fingerprints. Parameterised SQL only; a data set of another tenant is "not found".

import { randomBytes, randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { SqlDb, SqlRow } from '../sql/sql-db.ts';
import { openPostgresDb } from '../sql/postgres-db.ts';
import { openSqliteDb } from '../sql/sqlite-db.ts';

const MIGRATION_LOCK = 0x646c7073; // 'dlps'

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS dlp_keys (tenant_id TEXT PRIMARY KEY, fingerprint_key TEXT NOT NULL, created_at BIGINT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS dlp_datasets (
    tenant_id TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, columns_json TEXT NOT NULL, rows_count BIGINT NOT NULL,
    fingerprints BIGINT NOT NULL, set_bytes BIGINT NOT NULL, fingerprint_set TEXT NOT NULL, created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL, PRIMARY KEY (tenant_id, id), UNIQUE (tenant_id, name))`,
];

export interface DlpDatasetRecord {
  tenantId: string;
  id: string;
  name: string;
  columns: { name: string; type: string }[];
  rows: number;
  fingerprints: number;
  /** Bytes of the fingerprint set as stored and delivered. */
  bytes: number;
  createdBy: string;
  createdAt: number;
}

export interface NewDlpDataset extends Omit<DlpDatasetRecord, 'id' | 'createdAt' | 'bytes'> {
  /** The serialised fingerprint set (FingerprintSet.serialise). */
  set: Uint8Array;
}

/** A data set name already taken in the tenant. */
export class DlpDatasetExistsError extends Error {
  override name = 'DlpDatasetExistsError';
}

const COLUMNS = 'tenant_id, id, name, columns_json, rows_count, fingerprints, set_bytes, created_by, created_at';

function fromRow(r: SqlRow): DlpDatasetRecord {
  return {
    tenantId: String(r.tenant_id), id: String(r.id), name: String(r.name), columns: JSON.parse(String(r.columns_json)) as DlpDatasetRecord['columns'],
    rows: Number(r.rows_count), fingerprints: Number(r.fingerprints), bytes: Number(r.set_bytes), createdBy: String(r.created_by),
    createdAt: Number(r.created_at),
  };
}

export class SqlDlpStore {
  private readonly db: SqlDb;

  constructor(db: SqlDb) {
    this.db = db;
  }

  migrate(): Promise<void> {
    return this.db.migrate({ table: 'dlp_schema_migrations', lockKey: MIGRATION_LOCK, migrations: [SCHEMA] });
  }

  close(): Promise<void> {
    return this.db.close();
  }

  /** The tenant's fingerprint key, made (32 random bytes) on first use; concurrent first uses agree on one. */
  async tenantKey(tenantId: string): Promise<Uint8Array> {
    await this.db.run('INSERT INTO dlp_keys (tenant_id, fingerprint_key, created_at) VALUES (?, ?, ?) ON CONFLICT (tenant_id) DO NOTHING',
      [tenantId, randomBytes(32).toString('hex'), Date.now()]);
    const r = await this.db.get('SELECT fingerprint_key FROM dlp_keys WHERE tenant_id = ?', [tenantId]);
    return new Uint8Array(Buffer.from(String(r!.fingerprint_key), 'hex'));
  }

  async list(tenantId: string): Promise<DlpDatasetRecord[]> {
    return (await this.db.all(`SELECT ${COLUMNS} FROM dlp_datasets WHERE tenant_id = ? ORDER BY name${this.db.collateC}`, [tenantId])).map(fromRow);
  }

  async get(tenantId: string, id: string): Promise<DlpDatasetRecord | undefined> {
    const r = await this.db.get(`SELECT ${COLUMNS} FROM dlp_datasets WHERE tenant_id = ? AND id = ?`, [tenantId, id]);
    return r && fromRow(r);
  }

  /** The data set's serialised fingerprint set (for delivery), or undefined. */
  async fingerprintSet(tenantId: string, id: string): Promise<Uint8Array | undefined> {
    const r = await this.db.get('SELECT fingerprint_set FROM dlp_datasets WHERE tenant_id = ? AND id = ?', [tenantId, id]);
    return r && new Uint8Array(Buffer.from(String(r.fingerprint_set), 'base64'));
  }

  async create(d: NewDlpDataset, now = Date.now()): Promise<DlpDatasetRecord> {
    const id = randomUUID();
    try {
      await this.db.run(`INSERT INTO dlp_datasets (${COLUMNS}, fingerprint_set) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, [
        d.tenantId, id, d.name, JSON.stringify(d.columns), d.rows, d.fingerprints, d.set.byteLength, d.createdBy, now,
        Buffer.from(d.set.buffer, d.set.byteOffset, d.set.byteLength).toString('base64')]);
    } catch (err) {
      if (this.db.isUniqueViolation(err)) throw new DlpDatasetExistsError(`a data set named '${d.name}' exists`);
      throw err;
    }
    return (await this.get(d.tenantId, id))!;
  }

  async delete(tenantId: string, id: string): Promise<boolean> {
    return (await this.db.run('DELETE FROM dlp_datasets WHERE tenant_id = ? AND id = ?', [tenantId, id])) > 0;
  }
}

export async function openSqliteDlpStore(path: string): Promise<SqlDlpStore> {
  const s = new SqlDlpStore(openSqliteDb(path));
  await s.migrate();
  return s;
}

export async function openPostgresDlpStore(config: pg.PoolConfig): Promise<SqlDlpStore> {
  const s = new SqlDlpStore(openPostgresDb(config, { max: 4 }));
  await s.migrate();
  return s;
}
