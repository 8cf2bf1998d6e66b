// RFC 6962 / RFC 9162 Merkle tree hashing, inclusion and consistency proofs, and their verifiers.
// Owns the tree arithmetic of the audit ledger. Pure: imports nothing but `node:` built-ins, so that an
// external conformance suite can load this file on its own.
//
// Hashes are SHA-256 as `Uint8Array`: leaf hash = SHA-256(0x00 ‖ entry), node hash = SHA-256(0x01 ‖ left ‖ right),
// the root of the empty tree is SHA-256 of the empty string.
//
// Exported API (the parameters named by the ledger issue, plus one trailing parameter for the generators):
//   rootHash(leafHashes)                                  MTH(D[n]) over the given leaf hashes
//   inclusionProof(index, size, leafHashes)               PATH(index, D[size]), RFC 9162 §2.1.3.1
//   consistencyProof(size1, size2, leafHashes)            PROOF(size1, D[size2]), RFC 9162 §2.1.4.1
//   verifyInclusion(leafIndex, treeSize, leafHash, proof, root)       RFC 9162 §2.1.3.2
//   verifyConsistency(size1, size2, root1, root2, proof)              RFC 9162 §2.1.4.2
// The generators take the leaf hashes as a trailing `leafHashes: Uint8Array[]` parameter; `size` may be smaller
// than `leafHashes.length`, the proof is then for the tree of the first `size` leaves. Generators built on any
// source of subtree hashes (e.g. a cached tree of level hashes) are `inclusionProofFrom` / `consistencyProofFrom`.
//
// Verifiers return `true` when the proof holds and otherwise throw a `MerkleProofError` whose message says
// precisely what is wrong (index out of range, proof too short or too long for the sizes, root mismatch, …).
// Consistency trivia handled before the RFC algorithm (which only defines 0 < size1 < size2): equal sizes are
// consistent iff the proof is empty and the roots are equal; size1 = 0 is consistent iff the proof is empty and
// root1 is the empty-tree root.

import { hash } from 'node:crypto';

export type Hash = Uint8Array;

/** Hash of the subtree over leaves [start, end), for 0 <= start < end. */
export type SubtreeHasher = (start: number, end: number) => Hash;

export class MerkleProofError extends Error {
  override name = 'MerkleProofError';
}

export const HASH_SIZE = 32;
const LEAF_PREFIX = Uint8Array.of(0x00);
const NODE_PREFIX = Uint8Array.of(0x01);

function sha256(...parts: Uint8Array[]): Hash {
  const digest = hash('sha256', parts.length === 1 ? parts[0] : Buffer.concat(parts), 'buffer');
  return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength);
}

/** SHA-256 of the empty string: the root of the empty tree. */
export function emptyRoot(): Hash {
  return sha256(new Uint8Array(0));
}

/** SHA-256(0x00 ‖ entry). */
export function leafHash(entry: Uint8Array): Hash {
  return sha256(LEAF_PREFIX, entry);
}

/** SHA-256(0x01 ‖ left ‖ right). */
export function nodeHash(left: Hash, right: Hash): Hash {
  return sha256(NODE_PREFIX, left, right);
}

/** The largest power of two strictly smaller than n (n >= 2). */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && splitPoint(n + 1) === n;
}

function hashesEqual(a: Hash, b: Hash): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const hex = (h: Hash): string => Buffer.from(h).toString('hex');

function checkSize(name: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new MerkleProofError(`${name} must be a non-negative integer, got ${n}`);
}

function checkHash(name: string, h: unknown): void {
  if (!(h instanceof Uint8Array) || h.length !== HASH_SIZE) {
    const got = h instanceof Uint8Array ? `${h.length} bytes` : typeof h;
    throw new MerkleProofError(`${name} must be a ${HASH_SIZE}-byte Uint8Array, got ${got}`);
  }
}

function checkProofHashes(proof: unknown): asserts proof is Hash[] {
  if (!Array.isArray(proof)) throw new MerkleProofError('proof must be an array of hashes');
  proof.forEach((h, i) => checkHash(`proof[${i}]`, h));
}

/** MTH over leaves[start, end) computed directly from the leaf hashes (O(end - start)). */
function leafSubtreeHasher(leafHashes: Hash[]): SubtreeHasher {
  const mth = (start: number, end: number): Hash => {
    if (end - start === 1) return leafHashes[start];
    const k = splitPoint(end - start);
    return nodeHash(mth(start, start + k), mth(start + k, end));
  };
  return mth;
}

function checkLeaves(size: number, leafHashes: Hash[]): void {
  checkSize('size', size);
  if (!Array.isArray(leafHashes)) throw new MerkleProofError('leafHashes must be an array of hashes');
  if (size > leafHashes.length) {
    throw new MerkleProofError(`size ${size} exceeds the ${leafHashes.length} leaf hashes given`);
  }
}

/** MTH(D[n]) of the given leaf hashes. */
export function rootHash(leafHashes: Hash[]): Hash {
  checkLeaves(leafHashes.length, leafHashes);
  return leafHashes.length === 0 ? emptyRoot() : leafSubtreeHasher(leafHashes)(0, leafHashes.length);
}

/** PATH(index, D[size]) computed from any source of subtree hashes. */
export function inclusionProofFrom(index: number, size: number, subtree: SubtreeHasher): Hash[] {
  checkSize('index', index);
  checkSize('size', size);
  if (index >= size) throw new MerkleProofError(`index ${index} is outside a tree of size ${size}`);
  const proof: Hash[] = [];
  const path = (m: number, lo: number, hi: number): void => {
    if (hi - lo === 1) return;
    const k = splitPoint(hi - lo);
    if (m < lo + k) {
      path(m, lo, lo + k);
      proof.push(subtree(lo + k, hi));
    } else {
      path(m, lo + k, hi);
      proof.push(subtree(lo, lo + k));
    }
  };
  path(index, 0, size);
  return proof;
}

/** PROOF(size1, D[size2]) computed from any source of subtree hashes; empty when size1 is 0 or size1 = size2. */
export function consistencyProofFrom(size1: number, size2: number, subtree: SubtreeHasher): Hash[] {
  checkSize('size1', size1);
  checkSize('size2', size2);
  if (size1 > size2) throw new MerkleProofError(`size1 ${size1} is larger than size2 ${size2}`);
  const proof: Hash[] = [];
  if (size1 === 0) return proof;
  const subproof = (m: number, lo: number, hi: number, whole: boolean): void => {
    if (m === hi - lo) {
      if (!whole) proof.push(subtree(lo, hi));
      return;
    }
    const k = splitPoint(hi - lo);
    if (m <= k) {
      subproof(m, lo, lo + k, whole);
      proof.push(subtree(lo + k, hi));
    } else {
      subproof(m - k, lo + k, hi, false);
      proof.push(subtree(lo, lo + k));
    }
  };
  subproof(size1, 0, size2, true);
  return proof;
}

/** PATH(index, D[size]) over the first `size` of `leafHashes`. */
export function inclusionProof(index: number, size: number, leafHashes: Hash[]): Hash[] {
  checkLeaves(size, leafHashes);
  return inclusionProofFrom(index, size, leafSubtreeHasher(leafHashes));
}

/** PROOF(size1, D[size2]) over the first `size2` of `leafHashes`. */
export function consistencyProof(size1: number, size2: number, leafHashes: Hash[]): Hash[] {
  checkLeaves(size2, leafHashes);
  return consistencyProofFrom(size1, size2, leafSubtreeHasher(leafHashes));
}

/** Number of hashes in PATH(index, D[size]), from the sizes alone. */
export function inclusionProofLength(index: number, size: number): number {
  let length = 0;
  for (let lo = 0, hi = size; hi - lo > 1; length++) {
    const k = splitPoint(hi - lo);
    if (index < lo + k) hi = lo + k;
    else lo += k;
  }
  return length;
}

/** Number of hashes in PROOF(size1, D[size2]) for 0 < size1 < size2, from the sizes alone. */
export function consistencyProofLength(size1: number, size2: number): number {
  let length = 0;
  let m = size1;
  let n = size2;
  let whole = true;
  while (m !== n) {
    const k = splitPoint(n);
    if (m <= k) n = k;
    else {
      m -= k;
      n -= k;
      whole = false;
    }
    length++;
  }
  return whole ? length : length + 1;
}

const lsb = (n: number): boolean => n % 2 === 1;
const half = (n: number): number => Math.floor(n / 2);

function checkProofLength(proof: Hash[], expected: number, what: string): void {
  if (proof.length < expected) {
    throw new MerkleProofError(`${what} proof is truncated: ${proof.length} hashes, expected ${expected}`);
  }
  if (proof.length > expected) {
    throw new MerkleProofError(`${what} proof is extended: ${proof.length} hashes, expected ${expected}`);
  }
}

/** RFC 9162 §2.1.3.2. Returns true or throws a MerkleProofError saying why the proof fails. */
export function verifyInclusion(leafIndex: number, treeSize: number, leafHash: Hash, proof: Hash[], root: Hash): boolean {
  checkSize('leafIndex', leafIndex);
  checkSize('treeSize', treeSize);
  checkHash('leafHash', leafHash);
  checkHash('root', root);
  checkProofHashes(proof);
  if (leafIndex >= treeSize) {
    throw new MerkleProofError(`leaf index ${leafIndex} is outside a tree of size ${treeSize}`);
  }
  checkProofLength(proof, inclusionProofLength(leafIndex, treeSize), `inclusion (index ${leafIndex}, size ${treeSize})`);
  let fn = leafIndex;
  let sn = treeSize - 1;
  let r = leafHash;
  for (const p of proof) {
    if (sn === 0) throw new MerkleProofError('inclusion proof is extended: hashes left after reaching the root');
    if (lsb(fn) || fn === sn) {
      r = nodeHash(p, r);
      if (!lsb(fn)) {
        while (!lsb(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) throw new MerkleProofError('inclusion proof is truncated: the root was not reached');
  if (!hashesEqual(r, root)) {
    throw new MerkleProofError(`inclusion proof leads to root ${hex(r)}, not the expected root ${hex(root)}`);
  }
  return true;
}

/** RFC 9162 §2.1.4.2. Returns true or throws a MerkleProofError saying why the proof fails. */
export function verifyConsistency(size1: number, size2: number, root1: Hash, root2: Hash, proof: Hash[]): boolean {
  checkSize('size1', size1);
  checkSize('size2', size2);
  checkHash('root1', root1);
  checkHash('root2', root2);
  checkProofHashes(proof);
  if (size1 > size2) throw new MerkleProofError(`size1 ${size1} is larger than size2 ${size2}`);
  if (size1 === size2 || size1 === 0) return verifyTrivialConsistency(size1, size2, root1, root2, proof);
  checkProofLength(proof, consistencyProofLength(size1, size2), `consistency (sizes ${size1} → ${size2})`);
  const path = isPowerOfTwo(size1) ? [root1, ...proof] : proof;
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (lsb(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0) throw new MerkleProofError('consistency proof is extended: hashes left after reaching the root');
    if (lsb(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (!lsb(fn)) {
        while (!lsb(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) throw new MerkleProofError('consistency proof is truncated: the second root was not reached');
  if (!hashesEqual(fr, root1)) {
    throw new MerkleProofError(`consistency proof leads to first root ${hex(fr)}, not the expected ${hex(root1)}`);
  }
  if (!hashesEqual(sr, root2)) {
    throw new MerkleProofError(`consistency proof leads to second root ${hex(sr)}, not the expected ${hex(root2)}`);
  }
  return true;
}

function verifyTrivialConsistency(size1: number, size2: number, root1: Hash, root2: Hash, proof: Hash[]): boolean {
  if (proof.length !== 0) {
    throw new MerkleProofError(`consistency proof is extended: ${proof.length} hashes, expected 0 for sizes ${size1} → ${size2}`);
  }
  if (size1 === 0 && !hashesEqual(root1, emptyRoot())) {
    throw new MerkleProofError(`root1 ${hex(root1)} is not the empty-tree root`);
  }
  if (size1 === size2 && !hashesEqual(root1, root2)) {
    throw new MerkleProofError(`trees of equal size ${size1} have different roots ${hex(root1)} and ${hex(root2)}`);
  }
  return true;
}
