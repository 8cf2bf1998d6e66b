// Full verification of a stored ledger: re-hashes every stored entry, checks each row against its position
// (stored index, leaf hash, embedded index, row seal) and its tenant column against the hashed entry's tenant, rebuilds the Merkle tree, checks every stored signed
// checkpoint and any exported (externally notarised) checkpoints against it, including a consistency proof from
// each exported checkpoint to the latest signed one. Reports the first bad position. Pure: rows arrive through an
// async iterable.

import { openCheckpoint, type SignedCheckpoint } from './checkpoint.ts';
import { entryLeafHash, rowSeal } from './entry.ts';
import { verifyConsistency, type Hash } from './merkle.ts';
import type { NoteVerifier } from './note.ts';
import type { StoredCheckpoint, StoredRow } from './store.ts';
import { MerkleTree } from './tree.ts';

export interface VerifyInput {
  /** Stored rows in ascending index order. */
  rows: AsyncIterable<StoredRow>;
  /** Stored checkpoints in ascending size order. */
  checkpoints: StoredCheckpoint[];
  verifier: NoteVerifier;
  /** Row-seal key; without it the seals are not checked (and a re-hashed forgery is only caught by roots). */
  sealKey?: Uint8Array;
  /** Exported signed checkpoint notes to check for consistency with the stored log. */
  external?: string[];
}

export interface Problem {
  /** First entry position the problem implicates, when it implicates one. */
  position?: number;
  message: string;
}

export interface VerifyReport {
  ok: boolean;
  /** Number of stored rows. */
  size: number;
  /** Lowest position implicated by any problem. */
  firstBad?: number;
  /** Problems found, the first MAX_PROBLEMS of them (a gap early in the log implicates every later row). */
  problems: Problem[];
  /** Problems found beyond the first MAX_PROBLEMS. */
  omitted: number;
  warnings: string[];
  /** Latest stored checkpoint whose signature verified. */
  latest?: SignedCheckpoint;
}

export const MAX_PROBLEMS = 1000;

/** Collects problems, keeping the first MAX_PROBLEMS and counting the rest. */
class Problems {
  readonly list: Problem[] = [];
  omitted = 0;
  firstBad: number | undefined;

  /** Positions of row problems, ascending (rows are checked in order). */
  private readonly rowPositions: number[] = [];

  pushRow(p: Problem & { position: number }): void {
    if (this.rowPositions.at(-1) !== p.position) this.rowPositions.push(p.position);
    this.push(p);
  }

  /** The first position in [from, to) at which a row problem was found. */
  firstRowProblemIn(from: number, to: number): number | undefined {
    const found = this.rowPositions.find((p) => p >= from);
    return found !== undefined && found < to ? found : undefined;
  }

  push(p: Problem): void {
    if (p.position !== undefined && (this.firstBad === undefined || p.position < this.firstBad)) this.firstBad = p.position;
    if (this.list.length < MAX_PROBLEMS) this.list.push(p);
    else this.omitted++;
  }
}

const same = (a: Hash, b: Hash): boolean => Buffer.from(a).equals(Buffer.from(b));

/** Why the row is bad on its own (bytes, seal, recorded index), or undefined when it is sound. */
function rowProblem(row: StoredRow, leaf: Hash, sealKey: Uint8Array | undefined): string | undefined {
  if (!same(leaf, row.leafHash)) return 'entry bytes do not match the stored leaf hash';
  if (sealKey && !same(rowSeal(sealKey, row.index, leaf), row.seal)) {
    return 'row seal does not match: entry altered, inserted or moved';
  }
  let recorded: { index?: unknown; tenant_id?: unknown };
  try {
    recorded = JSON.parse(row.entry) as { index?: unknown; tenant_id?: unknown };
  } catch {
    return 'entry is not valid JSON';
  }
  if (recorded.index !== row.index) return `entry records index ${String(recorded.index)}: moved or inserted`;
  // The tenant column decides whose view lists the entry; it must be the tenant the hashed entry names.
  if (recorded.tenant_id !== row.tenantId) {
    return `tenant_id column ${JSON.stringify(row.tenantId)} differs from the entry's tenant ${JSON.stringify(recorded.tenant_id)}: moved to another tenant's view`;
  }
  return undefined;
}

/** The problem with a row whose stored index is not the one after its predecessor's. */
function sequenceProblem(index: number, expected: number): Problem & { position: number } {
  return index > expected
    ? { position: expected, message: `position ${expected}: entries ${expected}..${index - 1} are missing (next stored index is ${index})` }
    : { position: index, message: `position ${index}: stored index ${index} repeats or goes backwards` };
}

async function rehashRows(input: VerifyInput, problems: Problems): Promise<MerkleTree> {
  const tree = new MerkleTree();
  let expected = 0;
  for await (const row of input.rows) {
    if (row.index !== expected) problems.pushRow(sequenceProblem(row.index, expected));
    const leaf = entryLeafHash(row.entry);
    const message = rowProblem(row, leaf, input.sealKey);
    if (message) problems.pushRow({ position: row.index, message: `position ${row.index}: ${message}` });
    tree.append(leaf);
    expected = row.index + 1;
  }
  return tree;
}

function openStored(cp: StoredCheckpoint, verifier: NoteVerifier): SignedCheckpoint {
  const signed = openCheckpoint(cp.note, verifier);
  if (signed.size !== cp.size || !same(signed.root, cp.root)) {
    throw new Error(`stored size/root columns differ from the signed note (size ${signed.size})`);
  }
  return signed;
}

/** Checks the stored checkpoints against the re-hashed tree; returns the latest one whose signature verified. */
function checkStoredCheckpoints(input: VerifyInput, tree: MerkleTree, problems: Problems): SignedCheckpoint | undefined {
  let latest: SignedCheckpoint | undefined;
  let goodSize = 0;
  for (const stored of input.checkpoints) {
    let cp: SignedCheckpoint;
    try {
      cp = openStored(stored, input.verifier);
    } catch (err) {
      problems.push({ message: `checkpoint at size ${stored.size}: ${(err as Error).message}` });
      continue;
    }
    latest = cp;
    const mismatch = rootMismatch(cp, tree, goodSize, 'signed checkpoint', problems);
    if (mismatch) problems.push(mismatch);
    else goodSize = cp.size;
  }
  return latest;
}

/**
 * Compares a checkpoint with the re-hashed tree; `goodSize` is the largest size known to match. A mismatch lies
 * in [goodSize, size); its position is the first row problem in that range when one explains it, else goodSize.
 */
function rootMismatch(cp: SignedCheckpoint, tree: MerkleTree, goodSize: number, what: string, problems: Problems): Problem | undefined {
  if (cp.size > tree.size) {
    return {
      position: problems.firstRowProblemIn(goodSize, tree.size) ?? tree.size,
      message: `${what} of size ${cp.size} covers more entries than the ${tree.size} stored`,
    };
  }
  if (same(tree.root(cp.size), cp.root)) return undefined;
  const from = Math.min(goodSize, cp.size - 1);
  return {
    position: problems.firstRowProblemIn(from, cp.size) ?? from,
    message: `position ${from}..${cp.size - 1}: stored entries differ from those signed in the ${what} of size ${cp.size}`,
  };
}

function checkExternal(note: string, input: VerifyInput, tree: MerkleTree, latest: SignedCheckpoint | undefined, problems: Problems): void {
  let ext: SignedCheckpoint;
  try {
    ext = openCheckpoint(note, input.verifier);
  } catch (err) {
    problems.push({ message: `exported checkpoint: ${(err as Error).message}` });
    return;
  }
  const mismatch = rootMismatch(ext, tree, 0, 'exported checkpoint', problems);
  if (mismatch) {
    problems.push(mismatch);
    return;
  }
  if (!latest) return;
  const [older, newer] = ext.size <= latest.size ? [ext, latest] : [latest, ext];
  try {
    verifyConsistency(older.size, newer.size, older.root, newer.root, tree.consistencyProof(older.size, newer.size));
  } catch (err) {
    problems.push({ message: `exported checkpoint (size ${ext.size}) is not consistent with the latest signed checkpoint: ${(err as Error).message}` });
  }
}

export async function verifyLedger(input: VerifyInput): Promise<VerifyReport> {
  const problems = new Problems();
  const warnings: string[] = [];
  const tree = await rehashRows(input, problems);
  const latest = checkStoredCheckpoints(input, tree, problems);
  if (!latest && tree.size > 0) problems.push({ message: 'no stored checkpoint carries a valid signature' });
  if (latest && latest.size < tree.size) {
    warnings.push(`entries ${latest.size}..${tree.size - 1} are not yet covered by a signed checkpoint`);
  }
  if (!input.sealKey) warnings.push('row seals not checked (no signing key available)');
  for (const note of input.external ?? []) checkExternal(note, input, tree, latest, problems);
  const { list, omitted, firstBad } = problems;
  return { ok: list.length === 0, size: tree.size, firstBad, problems: list, omitted, warnings, latest };
}
