// The audit ledger: an append-only log of audit entries over an RFC 9162 Merkle tree, with Ed25519-signed C2SP
// checkpoints issued periodically and on demand. Owns batching of concurrent appends, index assignment, the
// cached tree (level hashes), proofs, and entry listing. Storage is behind the LedgerStore interface.
// Several Ledger instances (processes) may write one store: the store serialises appends and hands each batch
// the leaf hashes the others appended, so the cached tree is always a prefix of the stored log and indexes are
// assigned under the store's lock; checkpoints and listings first catch the tree up with the store.
//
//   const ledger = await Ledger.open({ store, key, checkpointIntervalMs: 1000 });
//   const { index, leafHash } = await ledger.append({ actor, tenant_id, action, target, outcome, request_id, details });
//   await ledger.checkpoint(); ledger.latestCheckpoint(); ledger.inclusionProof(i); ledger.consistencyProof(m, n);
//   await ledger.entries({ from, limit, tenantId }); await ledger.close();
//   await ledger.record({ actor, tenantId, action, outcome, … })   (the AuditSink interface, src/ledger/sink.ts)

import { createHash, type KeyObject } from 'node:crypto';
import { openCheckpoint, signCheckpoint, type SignedCheckpoint } from './checkpoint.ts';
import {
  encodeEntry, entryLeafHash, entryOfTenant, makeEntry, rowSeal, rowSealKey, validateEvent,
  type AuditEvent, type LedgerEntry,
} from './entry.ts';
import type { Hash } from './merkle.ts';
import { noteKey, rawPublicKey, type NoteKey, type NoteVerifier } from './note.ts';
import { auditEventOf, type AuditRecord, type AuditSink } from './sink.ts';
import type { LedgerStore, StoredRow } from './store.ts';
import { MerkleTree } from './tree.ts';

/** The ledger's secrets: the checkpoint signing key (its name is the log origin) and the row-seal key. */
export interface LedgerKey {
  note: NoteKey;
  seal: Uint8Array;
}

/** Default log origin for a key: stable per key and unique across deployments. */
export function defaultOrigin(publicKey: Uint8Array): string {
  return `vigil/ledger/${createHash('sha256').update(publicKey).digest('hex').slice(0, 16)}`;
}

export function ledgerKey(privateKey: KeyObject, origin?: string): LedgerKey {
  const seed = privateKey.export({ format: 'jwk' }).d;
  if (typeof seed !== 'string') throw new Error('ledger signing key must be an Ed25519 private key');
  const key = noteKey(origin ?? defaultOrigin(rawPublicKey(privateKey)), privateKey);
  return { note: key, seal: rowSealKey(Buffer.from(seed, 'base64url')) };
}

export function verifierOf(key: LedgerKey): NoteVerifier {
  return { name: key.note.name, publicKey: key.note.publicKey };
}

export interface LedgerOptions {
  store: LedgerStore;
  key: LedgerKey;
  /** Issue a checkpoint this often when the log has grown; 0 or absent: only on demand and at close. */
  checkpointIntervalMs?: number;
  /** Most entries written in one store transaction. */
  maxBatch?: number;
  now?: () => Date;
  /** Receives failures of periodic checkpoints (default: console.error). */
  onError?: (err: unknown) => void;
}

export interface AppendResult {
  index: number;
  leafHash: Hash;
}

export interface InclusionProof {
  index: number;
  size: number;
  leafHash: Hash;
  proof: Hash[];
  root: Hash;
}

export interface ConsistencyProof {
  size1: number;
  size2: number;
  proof: Hash[];
}

export interface EntryPage {
  entries: LedgerEntry[];
  /** Index to pass as `from` for the next page, absent at the end. */
  next?: number;
}

interface Pending {
  event: AuditEvent;
  timestamp: string;
  resolve(r: AppendResult): void;
  reject(err: unknown): void;
}

interface Sealed {
  pending: Pending;
  row: StoredRow;
}

const MAX_PAGE = 1000;
const LOAD_CHUNK = 65536;

function sameHash(a: Hash, b: Hash): boolean {
  return Buffer.from(a).equals(Buffer.from(b));
}

export class Ledger implements AuditSink {
  private readonly store: LedgerStore;
  private readonly key: LedgerKey;
  private readonly maxBatch: number;
  private readonly now: () => Date;
  private readonly tree = new MerkleTree();
  private queue: Pending[] = [];
  private flushScheduled = false;
  private chain: Promise<unknown> = Promise.resolve();
  private latest: SignedCheckpoint | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(opts: LedgerOptions) {
    this.store = opts.store;
    this.key = opts.key;
    this.maxBatch = opts.maxBatch ?? 5000;
    this.now = opts.now ?? (() => new Date());
    if (opts.checkpointIntervalMs) {
      const onError = opts.onError ?? ((err: unknown) => console.error('ledger checkpoint failed:', err));
      this.timer = setInterval(() => this.checkpoint().catch(onError), opts.checkpointIntervalMs);
      this.timer.unref();
    }
  }

  /** Opens the ledger over `store`, rebuilding the cached tree and checking it against the latest checkpoint. */
  static async open(opts: LedgerOptions): Promise<Ledger> {
    const ledger = new Ledger(opts);
    try {
      await ledger.load();
    } catch (err) {
      clearInterval(ledger.timer);
      throw err;
    }
    return ledger;
  }

  private async load(): Promise<void> {
    // The checkpoint first: its entries were stored before it, so catching up afterwards covers them.
    const stored = await this.store.latestCheckpoint();
    await this.catchUp();
    if (!stored) return;
    const cp = openCheckpoint(stored.note, verifierOf(this.key));
    if (cp.size > this.tree.size || !sameHash(this.tree.root(cp.size), cp.root)) {
      throw new Error(`stored log does not match its latest signed checkpoint (size ${cp.size}): run 'vigil ledger verify'`);
    }
    this.latest = cp;
  }

  /** Brings the cached tree up to the end of the stored log (entries other writers appended). In the chain only. */
  private async catchUp(): Promise<void> {
    const next = await this.store.nextIndex();
    while (this.tree.size < next) {
      const [from, to] = [this.tree.size, Math.min(this.tree.size + LOAD_CHUNK, next)];
      this.extend(from, to, await this.store.leafHashes(from, to));
    }
  }

  /** Appends the stored leaf hashes of positions [from, to) to the cached tree, refusing a gap in the store. */
  private extend(from: number, to: number, hashes: Hash[]): void {
    if (hashes.length !== to - from) {
      throw new Error(`ledger store holds ${hashes.length} leaf hashes for positions ${from}..${to - 1}: run 'vigil ledger verify'`);
    }
    for (const h of hashes) this.tree.append(h);
  }

  get origin(): string {
    return this.key.note.name;
  }

  /** Number of entries of the cached tree: all durably stored, and all of the store when last caught up. */
  get size(): number {
    return this.tree.size;
  }

  /**
   * Appends one audit event. Safe under concurrent calls: events are batched into one store transaction per
   * turn of the event loop and resolve, in call order, once durable, with their index and leaf hash.
   */
  append(event: AuditEvent): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new Error('ledger is closed'));
    try {
      validateEvent(event);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ event, timestamp: this.now().toISOString(), resolve, reject });
      this.scheduleFlush();
    });
  }

  /** AuditSink: appends `entry` and resolves once it is durable. */
  async record(entry: AuditRecord): Promise<void> {
    await this.append(auditEventOf(entry));
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      void this.serialised(() => this.flush());
    });
  }

  /** Runs `task` after every task queued before it (writes, checkpoints) has finished. */
  private serialised<T>(task: () => Promise<T>): Promise<T> {
    const run = this.chain.then(task);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async flush(): Promise<void> {
    const batch = this.queue.splice(0, this.maxBatch);
    if (this.queue.length > 0) this.scheduleFlush();
    const known = this.tree.size;
    let accepted: Sealed[] = [];
    try {
      // Indexes are assigned under the store's write lock, after what other writers appended (the tail, which is
      // committed: the tree keeps it even if this append fails; a gap in it aborts the append).
      await this.store.append(known, (next, tail) => {
        this.extend(known, next, tail);
        accepted = this.seal(batch, next);
        return accepted.map((a) => a.row);
      });
    } catch (err) {
      for (const pending of batch) pending.reject(err); // no-op for those seal() already rejected
      return;
    }
    for (const { pending, row } of accepted) {
      this.tree.append(row.leafHash);
      pending.resolve({ index: row.index, leafHash: row.leafHash });
    }
  }

  /** The rows of `batch` from index `next` on; an event that cannot be encoded is rejected and takes no index. */
  private seal(batch: Pending[], next: number): Sealed[] {
    const sealed: Sealed[] = [];
    for (const pending of batch) {
      const index = next + sealed.length;
      try {
        const entry = encodeEntry(makeEntry(pending.event, index, pending.timestamp));
        const leafHash = entryLeafHash(entry);
        const seal = rowSeal(this.key.seal, index, leafHash);
        sealed.push({ pending, row: { index, tenantId: pending.event.tenant_id, entry, leafHash, seal } });
      } catch (err) {
        pending.reject(err);
      }
    }
    return sealed;
  }

  /** Issues (signs and stores) a checkpoint of the whole stored log, unless the latest one already covers it. */
  checkpoint(): Promise<SignedCheckpoint> {
    return this.serialised(() => this.issueCheckpoint());
  }

  /** Signs the whole stored log as far as it goes now (including other writers' entries). */
  private async issueCheckpoint(): Promise<SignedCheckpoint> {
    await this.catchUp();
    const size = this.tree.size;
    if (this.latest?.size === size) return this.latest;
    const cp = signCheckpoint({ origin: this.origin, size, root: this.tree.root(size) }, this.key.note);
    // Another writer may have signed the same tree already: its checkpoint stands (the same note, issued earlier).
    const stored = await this.store.addCheckpoint({ size, root: cp.root, note: cp.note, issuedAt: this.now().toISOString() });
    if (!sameHash(stored.root, cp.root)) {
      throw new Error(`a checkpoint of size ${size} with another root is stored: run 'vigil ledger verify'`);
    }
    this.latest = cp;
    return cp;
  }

  /** Catches the cached tree up with the store, so proofs may name sizes other writers reached since. */
  async refresh(): Promise<void> {
    await this.serialised(() => this.catchUp());
  }

  /** The latest signed checkpoint, if any was issued. */
  latestCheckpoint(): SignedCheckpoint | undefined {
    return this.latest;
  }

  /** Inclusion proof of entry `index` in the tree of `size` entries (default: the latest checkpoint's size). */
  inclusionProof(index: number, size = this.latest?.size ?? this.tree.size): InclusionProof {
    if (!Number.isSafeInteger(index) || index < 0 || index >= size) {
      throw new RangeError(`index ${index} is outside the tree of size ${size} (the latest checkpoint may not cover it yet)`);
    }
    return { index, size, leafHash: this.tree.leafHash(index), proof: this.tree.inclusionProof(index, size), root: this.tree.root(size) };
  }

  /** Consistency proof between tree sizes `size1` and `size2` (default: the latest checkpoint's size). */
  consistencyProof(size1: number, size2 = this.latest?.size ?? this.tree.size): ConsistencyProof {
    return { size1, size2, proof: this.tree.consistencyProof(size1, size2) };
  }

  /**
   * A page of entries in index order from `from`, optionally only those of one tenant. The tree is caught up
   * with the store first, so every entry listed (also those other writers appended) can be proved right after,
   * at the size of any checkpoint signed by then, whichever writer signed it.
   */
  async entries(query: { from?: number; limit?: number; tenantId?: string } = {}): Promise<EntryPage> {
    const from = query.from ?? 0;
    const limit = Math.min(query.limit ?? 100, MAX_PAGE);
    if (!Number.isSafeInteger(from) || from < 0) throw new RangeError(`from must be a non-negative integer, got ${from}`);
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
    await this.refresh();
    const rows = await this.store.rows({ from, limit, tenantId: query.tenantId });
    // A row whose tenant column disagrees with its entry is listed to nobody by tenant (verification reports it).
    const tenantId = query.tenantId;
    const shown = tenantId === undefined ? rows : rows.filter((r) => entryOfTenant(r.entry, tenantId));
    const entries = shown.map((r) => JSON.parse(r.entry) as LedgerEntry);
    return rows.length === limit ? { entries, next: rows[rows.length - 1].index + 1 } : { entries };
  }

  /** Writes pending appends, issues a final checkpoint and closes the store (also when those fail). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    try {
      while (this.queue.length > 0) await this.serialised(() => this.flush());
      await this.checkpoint();
    } finally {
      await this.store.close();
    }
  }
}
