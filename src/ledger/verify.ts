// Full verification of a stored ledger: re-hashes every stored entry, checks each row against its position
// (stored index, leaf hash, embedded index, row seal), rebuilds the Merkle tree, checks every stored signed
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
  problems: Problem[];
  warnings: string[];
  /** Latest stored checkpoint whose signature verified. */
  latest?: SignedCheckpoint;
}

const same = (a: Hash, b: Hash): boolean => Buffer.from(a).equals(Buffer.from(b));

/** Why the row at `position` is bad, or undefined when it is sound. */
function rowProblem(row: StoredRow, position: number, leaf: Hash, sealKey: Uint8Array | undefined): string | undefined {
  if (row.index !== position) {
    return row.index > position
      ? `entries ${position}..${row.index - 1} are missing (next stored index is ${row.index})`
      : `stored index ${row.index} is out of order`;
  }
  if (!same(leaf, row.leafHash)) return 'entry bytes do not match the stored leaf hash';
  if (sealKey && !same(rowSeal(sealKey, position, leaf), row.seal)) {
    return 'row seal does not match: entry altered, inserted or moved';
  }
  let recorded: unknown;
  try {
    recorded = (JSON.parse(row.entry) as { index?: unknown }).index;
  } catch {
    return 'entry is not valid JSON';
  }
  return recorded === position ? undefined : `entry records index ${String(recorded)}: moved or inserted`;
}

async function rehashRows(input: VerifyInput, problems: Problem[]): Promise<MerkleTree> {
  const tree = new MerkleTree();
  for await (const row of input.rows) {
    const position = tree.size;
    const leaf = entryLeafHash(row.entry);
    const message = rowProblem(row, position, leaf, input.sealKey);
    if (message) problems.push({ position, message: `position ${position}: ${message}` });
    tree.append(leaf);
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
function checkStoredCheckpoints(input: VerifyInput, tree: MerkleTree, problems: Problem[]): SignedCheckpoint | undefined {
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
    const mismatch = rootMismatch(cp, tree, goodSize, 'signed checkpoint');
    if (mismatch) problems.push(mismatch);
    else goodSize = cp.size;
  }
  return latest;
}

/** Compares a checkpoint with the re-hashed tree; `goodSize` is the largest size known to match. */
function rootMismatch(cp: SignedCheckpoint, tree: MerkleTree, goodSize: number, what: string): Problem | undefined {
  if (cp.size > tree.size) {
    return { position: tree.size, message: `${what} of size ${cp.size} covers entries ${tree.size}..${cp.size - 1}, which are missing` };
  }
  if (same(tree.root(cp.size), cp.root)) return undefined;
  const from = Math.min(goodSize, cp.size - 1);
  return {
    position: from,
    message: `position ${from}..${cp.size - 1}: stored entries differ from those signed in the ${what} of size ${cp.size}`,
  };
}

function checkExternal(note: string, input: VerifyInput, tree: MerkleTree, latest: SignedCheckpoint | undefined, problems: Problem[]): void {
  let ext: SignedCheckpoint;
  try {
    ext = openCheckpoint(note, input.verifier);
  } catch (err) {
    problems.push({ message: `exported checkpoint: ${(err as Error).message}` });
    return;
  }
  const mismatch = rootMismatch(ext, tree, 0, 'exported checkpoint');
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
  const problems: Problem[] = [];
  const warnings: string[] = [];
  const tree = await rehashRows(input, problems);
  const latest = checkStoredCheckpoints(input, tree, problems);
  if (!latest && tree.size > 0) problems.push({ message: 'no stored checkpoint carries a valid signature' });
  if (latest && latest.size < tree.size) {
    warnings.push(`entries ${latest.size}..${tree.size - 1} are not yet covered by a signed checkpoint`);
  }
  if (!input.sealKey) warnings.push('row seals not checked (no signing key available)');
  for (const note of input.external ?? []) checkExternal(note, input, tree, latest, problems);
  const firstBad = problems.reduce<number | undefined>(
    (min, p) => (p.position === undefined || (min !== undefined && min <= p.position) ? min : p.position),
    undefined,
  );
  return { ok: problems.length === 0, size: tree.size, firstBad, problems, warnings, latest };
}
