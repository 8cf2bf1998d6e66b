// The storage interface of the audit ledger. Adapters (SQLite, PostgreSQL) live in src/stores/ledger/ and pass
// one conformance suite (test/ledger/store-conformance.ts). Several writers (processes) may share one store:
// appends are serialised by the store under its write lock, and each writer learns there what the others
// appended since it last looked. Types only.

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

/**
 * Builds the rows of a batch once the store knows where it goes: `next` is one past the highest stored index,
 * `tail` the leaf hashes of the stored rows from the writer's `known` index up to `next` (those appended by other
 * writers). Returns rows with contiguous indexes from `next` (none: nothing is stored). Throwing aborts the append.
 */
export type BatchBuilder = (next: number, tail: Uint8Array[]) => StoredRow[];

export interface LedgerStore {
  /** One past the highest stored index (0 when empty). */
  nextIndex(): Promise<number>;
  /**
   * Appends the rows `build` returns, atomically (all or none) and serialised with every other writer of the
   * store: under the store's write lock it reads the end of the log and the leaf hashes stored at `known` and
   * after, calls `build`, and stores its rows. Resolves once they are durable.
   */
  append(known: number, build: BatchBuilder): Promise<void>;
  /** Rows with index >= from, ascending by index. */
  rows(query: RowQuery): Promise<StoredRow[]>;
  /** Leaf hashes of the rows with from <= index < to, ascending (fewer than to - from only if rows are missing). */
  leafHashes(from: number, to: number): Promise<Uint8Array[]>;
  /**
   * Stores `cp` unless a checkpoint of the same size is stored already (another writer signed that tree);
   * resolves to the checkpoint stored at that size.
   */
  addCheckpoint(cp: StoredCheckpoint): Promise<StoredCheckpoint>;
  /** All stored checkpoints, ascending by size. */
  checkpoints(): Promise<StoredCheckpoint[]>;
  latestCheckpoint(): Promise<StoredCheckpoint | undefined>;
  close(): Promise<void>;
}
