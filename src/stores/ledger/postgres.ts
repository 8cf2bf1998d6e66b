// PostgreSQL storage of the audit ledger (the scaled deployment, where every API process writes), via `pg`. An
// append is one transaction holding the ledger's advisory lock: it reads the end of the log and what other
// writers appended, lets the ledger build the batch, and inserts it in one multi-row INSERT. Triggers refuse
// UPDATE, DELETE and TRUNCATE (append-only). The schema is created under the same lock.

import pg from 'pg';
import type { BatchBuilder, LedgerStore, RowQuery, StoredCheckpoint, StoredRow } from '../../ledger/store.ts';
import { inTransaction, openPool } from '../postgres-migrations.ts';

/** The advisory lock ('vldg') that serialises the ledger's writers (appends and schema creation). */
const WRITE_LOCK = 0x766c6467;
/**
 * A writer waits at most this long for the lock (then its append fails: the API answers 503), and a transaction
 * left idle this long (a stalled process holding the lock) is ended by the server, releasing the lock.
 */
const LOCK_TIMEOUT_MS = 10_000;
const POOL_SIZE = 10;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS ledger_entries (
  idx BIGINT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  entry TEXT NOT NULL,
  leaf_hash BYTEA NOT NULL,
  seal BYTEA NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_entries_tenant ON ledger_entries (tenant_id, idx);
CREATE TABLE IF NOT EXISTS ledger_checkpoints (
  size BIGINT PRIMARY KEY,
  root BYTEA NOT NULL,
  note TEXT NOT NULL,
  issued_at TEXT NOT NULL
);
CREATE OR REPLACE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$;
CREATE OR REPLACE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON ledger_entries
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
CREATE OR REPLACE TRIGGER ledger_checkpoints_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON ledger_checkpoints
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
`;

interface EntryRow {
  idx: string;
  tenant_id: string;
  entry: string;
  leaf_hash: Buffer;
  seal: Buffer;
}

interface CheckpointRow {
  size: string;
  root: Buffer;
  note: string;
  issued_at: string;
}

const bytes = (b: Buffer): Uint8Array => new Uint8Array(b);
const toRow = (r: EntryRow): StoredRow => ({
  index: Number(r.idx), tenantId: r.tenant_id, entry: r.entry, leafHash: bytes(r.leaf_hash), seal: bytes(r.seal),
});
const toCheckpoint = (r: CheckpointRow): StoredCheckpoint => ({
  size: Number(r.size), root: bytes(r.root), note: r.note, issuedAt: r.issued_at,
});

type Queryable = pg.Pool | pg.PoolClient;

async function lock(client: pg.PoolClient): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock($1)', [WRITE_LOCK]);
}

async function nextIndexOf(db: Queryable): Promise<number> {
  const r = await db.query<{ n: string }>('SELECT COALESCE(MAX(idx) + 1, 0) AS n FROM ledger_entries');
  return Number(r.rows[0].n);
}

async function leafHashesOf(db: Queryable, from: number, to: number): Promise<Uint8Array[]> {
  const r = await db.query<{ leaf_hash: Buffer }>(
    'SELECT leaf_hash FROM ledger_entries WHERE idx >= $1 AND idx < $2 ORDER BY idx', [from, to]);
  return r.rows.map((row) => bytes(row.leaf_hash));
}

export class PostgresLedgerStore implements LedgerStore {
  private readonly pool: pg.Pool;
  private closed = false;

  private constructor(pool: pg.Pool) {
    this.pool = pool;
  }

  /**
   * Connects and creates the ledger tables if needed; `readOnly` touches nothing (no schema, no triggers
   * re-created), as verification must.
   */
  static async connect(config: pg.PoolConfig, opts: { readOnly?: boolean } = {}): Promise<PostgresLedgerStore> {
    const pool = openPool({ lock_timeout: LOCK_TIMEOUT_MS, idle_in_transaction_session_timeout: LOCK_TIMEOUT_MS, ...config }, POOL_SIZE);
    try {
      if (opts.readOnly) await pool.query('SELECT 1 FROM ledger_entries LIMIT 0');
      else await inTransaction(pool, async (client) => { await lock(client); await client.query(SCHEMA); });
    } catch (err) {
      await pool.end();
      throw err;
    }
    return new PostgresLedgerStore(pool);
  }

  async nextIndex(): Promise<number> {
    return nextIndexOf(this.pool);
  }

  async append(known: number, build: BatchBuilder): Promise<void> {
    await inTransaction(this.pool, async (client) => {
      await lock(client);
      const next = await nextIndexOf(client);
      const rows = build(next, await leafHashesOf(client, known, next));
      if (rows.length > 0) {
        await client.query(
          `INSERT INTO ledger_entries (idx, tenant_id, entry, leaf_hash, seal)
           SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bytea[], $5::bytea[])`,
          [
            rows.map((r) => r.index), rows.map((r) => r.tenantId), rows.map((r) => r.entry),
            rows.map((r) => Buffer.from(r.leafHash)), rows.map((r) => Buffer.from(r.seal)),
          ],
        );
      }
    });
  }

  async rows(q: RowQuery): Promise<StoredRow[]> {
    const r = q.tenantId === undefined
      ? await this.pool.query<EntryRow>('SELECT * FROM ledger_entries WHERE idx >= $1 ORDER BY idx LIMIT $2', [q.from, q.limit])
      : await this.pool.query<EntryRow>(
        'SELECT * FROM ledger_entries WHERE tenant_id = $1 AND idx >= $2 ORDER BY idx LIMIT $3', [q.tenantId, q.from, q.limit]);
    return r.rows.map(toRow);
  }

  async leafHashes(from: number, to: number): Promise<Uint8Array[]> {
    return leafHashesOf(this.pool, from, to);
  }

  async addCheckpoint(cp: StoredCheckpoint): Promise<StoredCheckpoint> {
    const inserted = await this.pool.query(
      'INSERT INTO ledger_checkpoints (size, root, note, issued_at) VALUES ($1, $2, $3, $4) ON CONFLICT (size) DO NOTHING',
      [cp.size, Buffer.from(cp.root), cp.note, cp.issuedAt]);
    if (inserted.rowCount === 1) return cp;
    const r = await this.pool.query<CheckpointRow>('SELECT * FROM ledger_checkpoints WHERE size = $1', [cp.size]);
    return toCheckpoint(r.rows[0]);
  }

  async checkpoints(): Promise<StoredCheckpoint[]> {
    const r = await this.pool.query<CheckpointRow>('SELECT * FROM ledger_checkpoints ORDER BY size');
    return r.rows.map(toCheckpoint);
  }

  async latestCheckpoint(): Promise<StoredCheckpoint | undefined> {
    const r = await this.pool.query<CheckpointRow>('SELECT * FROM ledger_checkpoints ORDER BY size DESC LIMIT 1');
    return r.rows[0] ? toCheckpoint(r.rows[0]) : undefined;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}
