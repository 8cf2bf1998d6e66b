// Keyed BLAKE3 fingerprints (hash-wasm; one 32-byte key per tenant) truncated to 64 bits, and the compact set that
// holds them: a sorted Uint32Array of (high, low) pairs with a 2^16-bucket index on the high 16 bits, plus a
// prefilter bitset over a cheap keyed 32-bit hash so that most candidates are rejected without BLAKE3. 8 bytes per
// fingerprint + 2 bits per fingerprint of prefilter + 256 KiB of index. Serialised as one binary blob (header JSON +
// arrays) for delivery to agents. Pure (WebAssembly is computation).

import { createBLAKE3, type IHasher } from 'hash-wasm';
import { COLUMN_TAG, type ColumnType } from './normalise.ts';

export const FINGERPRINT_BYTES = 8;
const INDEX_BUCKETS = 1 << 16;
const MAGIC = 'VDLPFP1\n';

/** Keyed BLAKE3 of tag byte + UTF-8 value, truncated to 64 bits, and the cheap prefilter hash. */
export class Fingerprinter {
  private readonly scratch = new Uint8Array(4 * 1024 + 1);
  private readonly encoder = new TextEncoder();
  private readonly hasher: IHasher;
  readonly seed: number;
  private constructor(hasher: IHasher, seed: number) {
    this.hasher = hasher;
    this.seed = seed;
  }

  static async create(key: Uint8Array): Promise<Fingerprinter> {
    if (key.length !== 32) throw new Error('a DLP fingerprint key is 32 bytes');
    const hasher = await createBLAKE3(64, key);
    hasher.init();
    hasher.update(new Uint8Array([0]));
    const d = hasher.digest('binary');
    return new Fingerprinter(hasher, ((d[0]! << 24) | (d[1]! << 16) | (d[2]! << 8) | d[3]!) >>> 0);
  }

  /** The 64-bit fingerprint as [high, low] 32-bit halves. */
  fingerprint(tag: number, value: string, out: Uint32Array): void {
    this.scratch[0] = tag;
    const { written } = this.encoder.encodeInto(value, this.scratch.subarray(1));
    this.hasher.init();
    this.hasher.update(this.scratch.subarray(0, written + 1));
    const d = this.hasher.digest('binary');
    out[0] = ((d[0]! << 24) | (d[1]! << 16) | (d[2]! << 8) | d[3]!) >>> 0;
    out[1] = ((d[4]! << 24) | (d[5]! << 16) | (d[6]! << 8) | d[7]!) >>> 0;
  }

  /** A keyed 32-bit FNV-1a of tag + value (UTF-16 units): the prefilter's index, never stored alone. */
  prehash(tag: number, value: string): number {
    let h = prehashStart(this.seed, tag);
    for (let i = 0; i < value.length; i++) h = prehashStep(h, value.charCodeAt(i));
    return prehashFinish(h);
  }
}

/**
 * The prehash in three steps, so a matcher can hash a value while normalising it, without building the string
 * (the string is built only when the prefilter says the value may be in the set).
 */
export function prehashStart(seed: number, tag: number): number { return (seed ^ tag) >>> 0; }
export function prehashStep(h: number, code: number): number { return Math.imul(h ^ code, 0x01000193); }
export function prehashFinish(h: number): number {
  h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b); h ^= h >>> 13;
  return h >>> 0;
}

export interface FingerprintSetMeta {
  /** Data set name and version (content-derived id) the set was built from. */
  name: string;
  version: string;
  kind: 'records' | 'document';
  /** Column types fingerprinted (records), in upload order. */
  columns: { name: string; type: ColumnType; maxLength?: number; digits?: boolean }[];
  rows: number;
}

/** Sorted 64-bit fingerprints with a bucket index and a prefilter bitset. */
export class FingerprintSet {
  readonly meta: FingerprintSetMeta;
  /** (high, low) pairs sorted. */
  private readonly pairs: Uint32Array;
  private readonly index: Uint32Array;
  private readonly prefilter: Uint32Array;
  private readonly prefilterMask: number;
  private constructor(meta: FingerprintSetMeta, pairs: Uint32Array, index: Uint32Array, prefilter: Uint32Array, prefilterMask: number) {
    this.meta = meta;
    this.pairs = pairs;
    this.index = index;
    this.prefilter = prefilter;
    this.prefilterMask = prefilterMask;
  }

  get size(): number { return this.pairs.length / 2; }
  /** Memory held by the set's arrays. */
  get bytes(): number { return this.pairs.byteLength + this.index.byteLength + this.prefilter.byteLength; }

  mayContain(prehash: number): boolean {
    const bit = prehash & this.prefilterMask;
    return (this.prefilter[bit >>> 5]! & (1 << (bit & 31))) !== 0;
  }

  has(hi: number, lo: number): boolean {
    const bucket = hi >>> 16;
    let a = this.index[bucket]!;
    let b = this.index[bucket + 1]!;
    const p = this.pairs;
    while (a < b) {
      const mid = (a + b) >>> 1;
      const h = p[2 * mid]!;
      const l = p[2 * mid + 1]!;
      if (h === hi && l === lo) return true;
      if (h < hi || (h === hi && l < lo)) a = mid + 1; else b = mid;
    }
    return false;
  }

  /** Builds a set from fingerprints (pairs, any order, duplicates allowed) and their prehashes. */
  static build(meta: FingerprintSetMeta, pairs: Uint32Array, prehashes: Uint32Array): FingerprintSet {
    const n = pairs.length / 2;
    const order = new BigUint64Array(n);
    for (let i = 0; i < n; i++) order[i] = (BigInt(pairs[2 * i]!) << 32n) | BigInt(pairs[2 * i + 1]!);
    order.sort();
    let unique = 0;
    const sorted = new Uint32Array(2 * n);
    for (let i = 0; i < n; i++) {
      if (i > 0 && order[i] === order[i - 1]) continue;
      sorted[2 * unique] = Number(order[i]! >> 32n);
      sorted[2 * unique + 1] = Number(order[i]! & 0xffffffffn);
      unique++;
    }
    const fps = sorted.slice(0, 2 * unique);
    const bits = prefilterBits(unique);
    const prefilter = new Uint32Array(Math.max(1, (1 << bits) >>> 5));
    const mask = (1 << bits) - 1;
    for (const h of prehashes) { const bit = h & mask; prefilter[bit >>> 5]! |= 1 << (bit & 31); }
    return new FingerprintSet(meta, fps, bucketIndex(fps), prefilter, mask);
  }

  serialise(): Uint8Array {
    const header = new TextEncoder().encode(JSON.stringify({ ...this.meta, prefilterBits: Math.log2(this.prefilterMask + 1) }));
    const headerLen = align4(8 + 4 + header.length);
    const out = new Uint8Array(headerLen + 4 + this.pairs.byteLength + this.prefilter.byteLength);
    out.set(new TextEncoder().encode(MAGIC), 0);
    new DataView(out.buffer).setUint32(8, header.length, true);
    out.set(header, 12);
    new DataView(out.buffer).setUint32(headerLen, this.pairs.length / 2, true);
    out.set(new Uint8Array(this.pairs.buffer, this.pairs.byteOffset, this.pairs.byteLength), headerLen + 4);
    out.set(new Uint8Array(this.prefilter.buffer, this.prefilter.byteOffset, this.prefilter.byteLength), headerLen + 4 + this.pairs.byteLength);
    return out;
  }

  static deserialise(bytes: Uint8Array): FingerprintSet {
    if (new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) throw new Error('not a Vigil DLP fingerprint set');
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const headerLength = view.getUint32(8, true);
    const { prefilterBits: bits, ...meta } = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + headerLength))) as FingerprintSetMeta & { prefilterBits: number };
    const headerLen = align4(12 + headerLength);
    const n = view.getUint32(headerLen, true);
    const pairsStart = headerLen + 4;
    const pairs = new Uint32Array(bytes.slice(pairsStart, pairsStart + 8 * n).buffer);
    const prefilter = new Uint32Array(bytes.slice(pairsStart + 8 * n, pairsStart + 8 * n + Math.max(4, (1 << bits) >>> 3)).buffer);
    if (prefilter.length * 32 < 1 << bits) throw new Error('truncated DLP fingerprint set');
    return new FingerprintSet(meta, pairs, bucketIndex(pairs), prefilter, (1 << bits) - 1);
  }
}

/** Prefilter size: about 16 bits per fingerprint rounded to a power of two (≈ 6 % false positives), 2^10–2^27. */
function prefilterBits(n: number): number {
  return Math.min(27, Math.max(10, Math.ceil(Math.log2(Math.max(1, n) * 16))));
}

function align4(n: number): number { return (n + 3) & ~3; }

function bucketIndex(pairs: Uint32Array): Uint32Array {
  const index = new Uint32Array(INDEX_BUCKETS + 1);
  const n = pairs.length / 2;
  let i = 0;
  for (let b = 0; b <= INDEX_BUCKETS; b++) {
    while (i < n && pairs[2 * i]! >>> 16 < b) i++;
    index[b] = i;
  }
  return index;
}

/** Accumulates fingerprints of cells before building the set. */
export class FingerprintSetBuilder {
  private pairs = new Uint32Array(2 * 1024);
  private pre = new Uint32Array(1024);
  private n = 0;
  private readonly fp = new Uint32Array(2);
  private readonly fingerprinter: Fingerprinter;
  constructor(fingerprinter: Fingerprinter) { this.fingerprinter = fingerprinter; }

  add(tag: number, normalised: string): void {
    if (this.n === this.pre.length) {
      const pairs = new Uint32Array(this.pairs.length * 2); pairs.set(this.pairs); this.pairs = pairs;
      const pre = new Uint32Array(this.pre.length * 2); pre.set(this.pre); this.pre = pre;
    }
    this.fingerprinter.fingerprint(tag, normalised, this.fp);
    this.pairs[2 * this.n] = this.fp[0]!;
    this.pairs[2 * this.n + 1] = this.fp[1]!;
    this.pre[this.n] = this.fingerprinter.prehash(tag, normalised);
    this.n++;
  }

  addCell(type: ColumnType, normalised: string): void { this.add(COLUMN_TAG[type], normalised); }

  build(meta: FingerprintSetMeta): FingerprintSet {
    return FingerprintSet.build(meta, this.pairs.subarray(0, 2 * this.n), this.pre.subarray(0, this.n));
  }
}
