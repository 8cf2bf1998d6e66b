// Known-answer and property tests of src/ledger/merkle.ts and the cached tree, against hashes and proofs
// written out by hand from the RFC 6962 / RFC 9162 definitions (independently of the implementation).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import {
  consistencyProof, inclusionProof, MerkleProofError, rootHash, verifyConsistency, verifyInclusion,
} from '../../src/ledger/merkle.ts';
import { MerkleTree } from '../../src/ledger/tree.ts';

// Independent reference: H, leaf and node hashes, MTH by the RFC's recursive definition.
const H = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(createHash('sha256').update(Buffer.concat(parts)).digest());
const L = (data: Uint8Array): Uint8Array => H(Uint8Array.of(0), data);
const N = (a: Uint8Array, b: Uint8Array): Uint8Array => H(Uint8Array.of(1), a, b);
const hex = (h: Uint8Array): string => Buffer.from(h).toString('hex');
function mth(leaves: Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return H();
  if (leaves.length === 1) return leaves[0];
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return N(mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

const leaves = Array.from({ length: 8 }, (_, i) => L(Buffer.from(`d${i}`)));
const [a, b, c, d, e, f, j] = leaves;

test('empty tree root is SHA-256 of the empty string', () => {
  assert.equal(hex(rootHash([])), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
});

test('single leaf: root is the leaf hash SHA-256(0x00 ‖ entry)', () => {
  const leaf = L(Buffer.from('hello'));
  assert.equal(hex(leaf), hex(createHash('sha256').update(Buffer.from([0, ...Buffer.from('hello')])).digest()));
  assert.deepEqual(rootHash([leaf]), leaf);
  assert.deepEqual(inclusionProof(0, 1, [leaf]), []);
  assert.equal(verifyInclusion(0, 1, leaf, [], leaf), true);
});

test('roots of sizes 2..8 written out from the RFC definition', () => {
  const g = N(a, b), h = N(c, d), i = N(e, f);
  const expected = [
    N(a, b),
    N(N(a, b), c),
    N(g, h),
    N(N(g, h), e),
    N(N(g, h), i),
    N(N(g, h), N(i, j)),
    N(N(g, h), N(i, N(j, leaves[7]))),
  ];
  expected.forEach((root, k) => assert.equal(hex(rootHash(leaves.slice(0, k + 2))), hex(root), `size ${k + 2}`));
});

test('RFC 6962 §2.1.3 example tree of 7 leaves: audit paths and consistency proofs', () => {
  // Labels as in the RFC figure: a..f, j leaves; g=N(a,b) h=N(c,d) i=N(e,f) k=N(g,h) l=N(i,j).
  const g = N(a, b), h = N(c, d), i = N(e, f), k = N(g, h), l = N(i, j);
  const seven = leaves.slice(0, 7);
  const root = N(k, l);
  assert.equal(hex(rootHash(seven)), hex(root));
  const paths: [number, Uint8Array[]][] = [[0, [b, h, l]], [3, [c, g, l]], [4, [f, j, k]], [6, [i, k]]];
  for (const [index, path] of paths) {
    assert.deepEqual(inclusionProof(index, 7, seven).map(hex), path.map(hex), `PATH(${index}, D[7])`);
    assert.equal(verifyInclusion(index, 7, seven[index], path, root), true);
  }
  const proofs: [number, Uint8Array[]][] = [[3, [c, d, g, l]], [4, [l]], [6, [i, j, k]]];
  for (const [m, proof] of proofs) {
    assert.deepEqual(consistencyProof(m, 7, seven).map(hex), proof.map(hex), `PROOF(${m}, D[7])`);
    assert.equal(verifyConsistency(m, 7, mth(seven.slice(0, m)), root, proof), true);
  }
});

test('size may be smaller than the leaves given: proofs are for the first size leaves', () => {
  const g = N(a, b), h = N(c, d);
  assert.deepEqual(inclusionProof(4, 5, leaves).map(hex), [N(g, h)].map(hex));
  assert.deepEqual(consistencyProof(2, 4, leaves).map(hex), [h].map(hex));
  assert.deepEqual(consistencyProof(3, 5, leaves).map(hex), [c, d, g, e].map(hex));
});

function randomLeaves(n: number): Uint8Array[] {
  return Array.from({ length: n }, () => new Uint8Array(randomBytes(32)));
}

test('property: every inclusion and consistency proof verifies, sizes 1..64 exhaustively', () => {
  const all = randomLeaves(64);
  const tree = new MerkleTree();
  for (const leaf of all) tree.append(leaf);
  for (let n = 1; n <= 64; n++) {
    const root = mth(all.slice(0, n));
    assert.equal(hex(rootHash(all.slice(0, n))), hex(root));
    assert.equal(hex(tree.root(n)), hex(root));
    for (let i = 0; i < n; i++) {
      const proof = inclusionProof(i, n, all);
      assert.deepEqual(tree.inclusionProof(i, n), proof);
      assert.equal(verifyInclusion(i, n, all[i], proof, root), true);
    }
    for (let m = 1; m <= n; m++) {
      const proof = consistencyProof(m, n, all);
      assert.deepEqual(tree.consistencyProof(m, n), proof);
      assert.equal(verifyConsistency(m, n, mth(all.slice(0, m)), root, proof), true);
    }
  }
});

test('property: random sizes and pairs up to 5000 leaves', () => {
  const all = randomLeaves(5000);
  const tree = new MerkleTree();
  for (const leaf of all) tree.append(leaf);
  for (let trial = 0; trial < 200; trial++) {
    const n = 65 + Math.floor(Math.random() * (all.length - 64));
    const m = 1 + Math.floor(Math.random() * n);
    const i = Math.floor(Math.random() * n);
    const root = tree.root(n);
    assert.equal(verifyInclusion(i, n, all[i], tree.inclusionProof(i, n), root), true);
    assert.equal(verifyConsistency(m, n, tree.root(m), root, tree.consistencyProof(m, n)), true);
  }
  assert.equal(hex(tree.root()), hex(mth(all)));
});

test('inclusion verifier rejects wrong root, wrong size, truncated and extended proofs precisely', () => {
  const all = randomLeaves(13);
  const root = rootHash(all);
  const proof = inclusionProof(5, 13, all);
  const rejects = (fn: () => unknown, message: RegExp) => assert.throws(fn, (err: unknown) => err instanceof MerkleProofError && message.test(err.message));
  rejects(() => verifyInclusion(5, 13, all[5], proof, rootHash(all.slice(0, 12))), /leads to root .* not the expected root/);
  rejects(() => verifyInclusion(5, 13, all[6], proof, root), /not the expected root/);
  rejects(() => verifyInclusion(5, 6, all[5], proof, root), /extended: 4 hashes, expected 2/);
  rejects(() => verifyInclusion(5, 40, all[5], proof, root), /truncated: 4 hashes, expected 6/);
  rejects(() => verifyInclusion(5, 13, all[5], proof.slice(0, -1), root), /truncated/);
  rejects(() => verifyInclusion(5, 13, all[5], [...proof, root], root), /extended/);
  rejects(() => verifyInclusion(13, 13, all[5], proof, root), /outside a tree of size 13/);
  rejects(() => verifyInclusion(5, 13, all[5], [proof[0].subarray(1), ...proof.slice(1)], root), /proof\[0\] must be a 32-byte/);
  const flipped = proof.map((h) => new Uint8Array(h));
  flipped[2][0] ^= 1;
  rejects(() => verifyInclusion(5, 13, all[5], flipped, root), /not the expected root/);
});

test('consistency verifier rejects wrong roots, wrong sizes, truncated and extended proofs precisely', () => {
  const all = randomLeaves(21);
  const root1 = rootHash(all.slice(0, 6));
  const root2 = rootHash(all);
  const proof = consistencyProof(6, 21, all);
  const rejects = (fn: () => unknown, message: RegExp) => assert.throws(fn, (err: unknown) => err instanceof MerkleProofError && message.test(err.message));
  assert.equal(verifyConsistency(6, 21, root1, root2, proof), true);
  rejects(() => verifyConsistency(6, 21, root2, root2, proof), /first root .* not the expected/);
  rejects(() => verifyConsistency(6, 21, root1, root1, proof), /second root .* not the expected/);
  rejects(() => verifyConsistency(7, 21, root1, root2, proof), /not the expected|truncated|extended/);
  rejects(() => verifyConsistency(6, 21, root1, root2, proof.slice(0, -1)), /truncated/);
  rejects(() => verifyConsistency(6, 21, root1, root2, [...proof, root1]), /extended/);
  rejects(() => verifyConsistency(22, 21, root1, root2, proof), /larger than size2/);
  // Trivial cases: equal sizes need equal roots and no proof; the empty tree is consistent with any tree.
  assert.equal(verifyConsistency(21, 21, root2, root2, []), true);
  rejects(() => verifyConsistency(21, 21, root1, root2, []), /different roots/);
  rejects(() => verifyConsistency(21, 21, root2, root2, [root1]), /extended/);
  assert.equal(verifyConsistency(0, 21, rootHash([]), root2, []), true);
  rejects(() => verifyConsistency(0, 21, root1, root2, []), /not the empty-tree root/);
  rejects(() => verifyConsistency(4, 21, rootHash(all.slice(0, 4)), root2, []), /truncated/);
});

test('a cached tree of 2^18 entries gives short proofs that verify', () => {
  const tree = new MerkleTree();
  const leaf = new Uint8Array(32);
  for (let i = 0; i < 1 << 18; i++) {
    leaf[0] = i & 0xff; leaf[1] = (i >> 8) & 0xff; leaf[2] = i >> 16;
    tree.append(leaf);
  }
  const size = tree.size;
  for (let k = 0; k < 100; k++) {
    const i = Math.floor(Math.random() * size);
    const root = tree.root(size);
    const inclusion = tree.inclusionProof(i, size);
    assert.ok(inclusion.length <= 18, 'an inclusion proof has at most log2(size) hashes');
    assert.equal(verifyInclusion(i, size, tree.leafHash(i), inclusion, root), true);
    const m = 1 + Math.floor(Math.random() * size);
    const consistency = tree.consistencyProof(m, size);
    assert.ok(consistency.length <= 2 * 18);
    assert.equal(verifyConsistency(m, size, tree.root(m), root, consistency), true);
  }
});
