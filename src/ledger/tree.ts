// In-memory cache of a growing Merkle tree: the hash of every complete, aligned subtree (level hashes), kept in
// one flat byte array per level. Appends cost O(1) amortised node hashes; roots and proofs for any size up to the
// current one cost O(log n) hashes, so proofs over a million-entry ledger take microseconds. Pure.

import {
  consistencyProofFrom, emptyRoot, HASH_SIZE, inclusionProofFrom, nodeHash, splitPoint,
  type Hash,
} from './merkle.ts';

/** Append-only array of 32-byte hashes stored contiguously. */
class HashArray {
  private bytes = new Uint8Array(HASH_SIZE * 1024);
  length = 0;

  push(h: Hash): void {
    if ((this.length + 1) * HASH_SIZE > this.bytes.length) {
      const bigger = new Uint8Array(this.bytes.length * 2);
      bigger.set(this.bytes);
      this.bytes = bigger;
    }
    this.bytes.set(h, this.length * HASH_SIZE);
    this.length++;
  }

  at(i: number): Hash {
    return this.bytes.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE);
  }
}

export class MerkleTree {
  /** levels[k].at(i) = hash of the complete subtree over leaves [i·2^k, (i+1)·2^k). */
  private readonly levels: HashArray[] = [new HashArray()];

  get size(): number {
    return this.levels[0].length;
  }

  append(leafHash: Hash): void {
    let level = 0;
    let hash = leafHash;
    for (;;) {
      const row = this.levels[level];
      row.push(hash);
      if (row.length % 2 === 1) return;
      hash = nodeHash(row.at(row.length - 2), row.at(row.length - 1));
      level++;
      if (this.levels.length === level) this.levels.push(new HashArray());
    }
  }

  leafHash(index: number): Hash {
    this.checkSize(index + 1);
    return this.levels[0].at(index);
  }

  /** MTH over leaves [start, end): cached when complete and aligned, else split as RFC 9162 does. */
  readonly subtree = (start: number, end: number): Hash => {
    const width = end - start;
    const level = Math.log2(width);
    if (Number.isInteger(level) && start % width === 0) return this.levels[level].at(start / width);
    const k = splitPoint(width);
    return nodeHash(this.subtree(start, start + k), this.subtree(start + k, end));
  };

  root(size = this.size): Hash {
    this.checkSize(size);
    return size === 0 ? emptyRoot() : this.subtree(0, size);
  }

  inclusionProof(index: number, size = this.size): Hash[] {
    this.checkSize(size);
    return inclusionProofFrom(index, size, this.subtree);
  }

  consistencyProof(size1: number, size2 = this.size): Hash[] {
    this.checkSize(size2);
    return consistencyProofFrom(size1, size2, this.subtree);
  }

  private checkSize(size: number): void {
    if (!Number.isSafeInteger(size) || size < 0 || size > this.size) {
      throw new RangeError(`tree size ${size} is outside the ledger's 0..${this.size}`);
    }
  }
}
