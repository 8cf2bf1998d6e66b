// The storage interface of the audit ledger. Adapters (SQLite, PostgreSQL) live in src/stores/ledger/ and pass
// one conformance suite (test/ledger/store-conformance.ts). Types only.

/** One stored entry: the canonical JSON the leaf hash covers, plus the derived columns. */
export interface StoredRow {
  index: number;
  tenantId: string;
  /** RFC 8785 canonical JSON of the LedgerEntry. */
  entry: string;
  leafHash: Uint8Array;
  /** Row seal: HMAC over (index, leafHash) with a key derived from the signing key. */
  seal: Uint8Array;
}

export interface StoredCheckpoint {
  size: number;
  root: Uint8Array;
  /** The signed note (C2SP checkpoint) as issued. */
  note: string;
  issuedAt: string;
}

export interface RowQuery {
  /** First index to return (inclusive). */
  from: number;
  limit: number;
  /** Only rows of this tenant. */
  tenantId?: string;
}

export interface LedgerStore {
  /** One past the highest stored index (0 when empty). */
  nextIndex(): Promise<number>;
  /** Appends rows atomically: all or none. Rows are contiguous and start at nextIndex(). */
  append(rows: StoredRow[]): Promise<void>;
  /** Rows with index >= from, ascending by index. */
  rows(query: RowQuery): Promise<StoredRow[]>;
  /** Leaf hashes of the rows with index >= from, ascending, at most `limit`. */
  leafHashes(from: number, limit: number): Promise<Uint8Array[]>;
  addCheckpoint(cp: StoredCheckpoint): Promise<void>;
  /** All stored checkpoints, ascending by size. */
  checkpoints(): Promise<StoredCheckpoint[]>;
  latestCheckpoint(): Promise<StoredCheckpoint | undefined>;
  close(): Promise<void>;
}
