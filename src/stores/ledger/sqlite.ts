// SQLite storage of the audit ledger (Node's built-in node:sqlite): one file, WAL journal, synchronous=FULL so
// an append is on disk before it is acknowledged; triggers refuse UPDATE and DELETE (append-only). An append is
// one IMMEDIATE transaction: SQLite's write lock serialises writers, and the batch is built under it.

import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { BatchBuilder, LedgerStore, RowQuery, StoredCheckpoint, StoredRow } from '../../ledger/store.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS ledger_entries (
  idx INTEGER PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  entry TEXT NOT NULL,
  leaf_hash BLOB NOT NULL,
  seal BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_entries_tenant ON ledger_entries (tenant_id, idx);
CREATE TABLE IF NOT EXISTS ledger_checkpoints (
  size INTEGER PRIMARY KEY,
  root BLOB NOT NULL,
  note TEXT NOT NULL,
  issued_at TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS ledger_entries_no_update BEFORE UPDATE ON ledger_entries
  BEGIN SELECT RAISE(ABORT, 'ledger_entries is append-only'); END;
CREATE TRIGGER IF NOT EXISTS ledger_entries_no_delete BEFORE DELETE ON ledger_entries
  BEGIN SELECT RAISE(ABORT, 'ledger_entries is append-only'); END;
CREATE TRIGGER IF NOT EXISTS ledger_checkpoints_no_update BEFORE UPDATE ON ledger_checkpoints
  BEGIN SELECT RAISE(ABORT, 'ledger_checkpoints is append-only'); END;
CREATE TRIGGER IF NOT EXISTS ledger_checkpoints_no_delete BEFORE DELETE ON ledger_checkpoints
  BEGIN SELECT RAISE(ABORT, 'ledger_checkpoints is append-only'); END;
`;

interface EntryRow {
  idx: number;
  tenant_id: string;
  entry: string;
  leaf_hash: Uint8Array;
  seal: Uint8Array;
}

interface CheckpointRow {
  size: number;
  root: Uint8Array;
  note: string;
  issued_at: string;
}

const toRow = (r: EntryRow): StoredRow => ({ index: r.idx, tenantId: r.tenant_id, entry: r.entry, leafHash: r.leaf_hash, seal: r.seal });
const toCheckpoint = (r: CheckpointRow): StoredCheckpoint => ({ size: r.size, root: r.root, note: r.note, issuedAt: r.issued_at });

export class SqliteLedgerStore implements LedgerStore {
  private readonly db: DatabaseSync;
  private readonly insertRow: StatementSync;
  private readonly insertCheckpoint: StatementSync;
  private readonly selectNext: StatementSync;
  private readonly selectLeafHashes: StatementSync;
  private readonly selectCheckpoint: StatementSync;

  /**
   * Opens (creating if needed) the ledger database at `path`. `readOnly` opens an existing file without touching
   * it (no schema, no triggers re-created), as verification must.
   */
  constructor(path: string, opts: { readOnly?: boolean } = {}) {
    this.db = new DatabaseSync(path, { readOnly: opts.readOnly ?? false });
    this.db.exec('PRAGMA busy_timeout = 5000;');
    if (!opts.readOnly) {
      this.db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;');
      this.db.exec(SCHEMA);
    }
    this.insertRow = this.db.prepare('INSERT INTO ledger_entries (idx, tenant_id, entry, leaf_hash, seal) VALUES (?, ?, ?, ?, ?)');
    this.insertCheckpoint = this.db.prepare(
      'INSERT INTO ledger_checkpoints (size, root, note, issued_at) VALUES (?, ?, ?, ?) ON CONFLICT (size) DO NOTHING');
    this.selectNext = this.db.prepare('SELECT COALESCE(MAX(idx) + 1, 0) AS n FROM ledger_entries');
    this.selectLeafHashes = this.db.prepare('SELECT leaf_hash FROM ledger_entries WHERE idx >= ? AND idx < ? ORDER BY idx');
    this.selectCheckpoint = this.db.prepare('SELECT * FROM ledger_checkpoints WHERE size = ?');
  }

  async nextIndex(): Promise<number> {
    return (this.selectNext.get() as { n: number }).n;
  }

  async append(known: number, build: BatchBuilder): Promise<void> {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const next = (this.selectNext.get() as { n: number }).n;
      for (const r of build(next, this.hashes(known, next))) this.insertRow.run(r.index, r.tenantId, r.entry, r.leafHash, r.seal);
      this.db.exec('COMMIT');
    } catch (err) {
      this.db.exec('ROLLBACK');
      throw err;
    }
  }

  async rows(q: RowQuery): Promise<StoredRow[]> {
    const rows = q.tenantId === undefined
      ? this.db.prepare('SELECT * FROM ledger_entries WHERE idx >= ? ORDER BY idx LIMIT ?').all(q.from, q.limit)
      : this.db.prepare('SELECT * FROM ledger_entries WHERE tenant_id = ? AND idx >= ? ORDER BY idx LIMIT ?').all(q.tenantId, q.from, q.limit);
    return (rows as unknown as EntryRow[]).map(toRow);
  }

  async leafHashes(from: number, to: number): Promise<Uint8Array[]> {
    return this.hashes(from, to);
  }

  private hashes(from: number, to: number): Uint8Array[] {
    return (this.selectLeafHashes.all(from, to) as unknown as { leaf_hash: Uint8Array }[]).map((r) => r.leaf_hash);
  }

  async addCheckpoint(cp: StoredCheckpoint): Promise<StoredCheckpoint> {
    if (this.insertCheckpoint.run(cp.size, cp.root, cp.note, cp.issuedAt).changes === 1) return cp;
    return toCheckpoint(this.selectCheckpoint.get(cp.size) as unknown as CheckpointRow);
  }

  async checkpoints(): Promise<StoredCheckpoint[]> {
    const rows = this.db.prepare('SELECT * FROM ledger_checkpoints ORDER BY size').all();
    return (rows as unknown as CheckpointRow[]).map(toCheckpoint);
  }

  async latestCheckpoint(): Promise<StoredCheckpoint | undefined> {
    const row = this.db.prepare('SELECT * FROM ledger_checkpoints ORDER BY size DESC LIMIT 1').get();
    return row ? toCheckpoint(row as unknown as CheckpointRow) : undefined;
  }

  async close(): Promise<void> {
    if (this.db.isOpen) this.db.close();
  }
}
