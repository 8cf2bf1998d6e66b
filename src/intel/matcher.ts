// The indicator matcher of one list, compact for a million indicators: hashes packed as bytes in one buffer per
// algorithm, ordered by their first 32 bits (binary search, then a byte compare); IPv4 addresses and networks as
// sorted 32-bit network numbers per prefix length (an address is masked to each prefix length present, most
// specific first); IPv6 networks by masked hex per prefix length; domains ordered by a 32-bit FNV-1a hash of the
// name (binary search, then a string compare), a name matching itself or any parent domain listed (subdomain
// matching). Per indicator: a confidence byte and an expiry (epoch seconds; 0: none). Pure.

import { bytesToHex, ipv4Mask, ipv4ToNumber, ipv6ToBytes, isHex, maskIpv6, numberToIpv4, unmapIpv4, type Indicator, type IndicatorType } from './indicators.ts';

/** Entries per table: refs are packed beside a 32-bit key in a double (2^32 × 2^21 < 2^53). */
export const MAX_PER_TABLE = 1 << 21;

export interface IndicatorHit {
  type: IndicatorType;
  /** The listed indicator (a network or a parent domain where that matched). */
  value: string;
  confidence: number;
  expiresAt?: number;
}

/** Tables from this size on get a presence filter (2 MiB: one bit per 24-bit key prefix). */
const FILTER_FROM = 4096;

/**
 * Keys (32-bit) sorted, each with the ref of its entry: built from unsorted (key, ref) pairs with one numeric sort.
 * A large table also keeps a bit per 24-bit key prefix present, so most probes for an absent key (nearly all of
 * them, in telemetry) end with one bit test instead of a binary search.
 */
class SortedKeys {
  readonly keys: Uint32Array;
  readonly refs: Uint32Array;
  private readonly present: Uint8Array | undefined;

  constructor(pairs: Float64Array) {
    pairs.sort();
    this.keys = new Uint32Array(pairs.length);
    this.refs = new Uint32Array(pairs.length);
    for (let i = 0; i < pairs.length; i++) {
      const key = Math.floor(pairs[i] / MAX_PER_TABLE);
      this.keys[i] = key;
      this.refs[i] = pairs[i] - key * MAX_PER_TABLE;
    }
    if (this.keys.length >= FILTER_FROM) {
      this.present = new Uint8Array(1 << 21);
      for (const k of this.keys) this.present[k >>> 11] |= 1 << ((k >>> 8) & 7);
    }
  }

  /** False when no key has k's first 24 bits (k is certainly absent). */
  mayHave(k: number): boolean {
    return this.present === undefined || (this.present[k >>> 11] & (1 << ((k >>> 8) & 7))) !== 0;
  }

  /** Index of the first key ≥ k. */
  lowerBound(k: number): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.keys[mid] < k) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The first ref with key k (keys that are the whole value: no confirmation needed). */
  findExact(k: number): number | undefined {
    if (!this.mayHave(k)) return undefined;
    const i = this.lowerBound(k);
    return i < this.keys.length && this.keys[i] === k ? this.refs[i] : undefined;
  }

  /** The first ref with key k that `confirm` accepts. */
  find(k: number, confirm: (ref: number) => boolean): number | undefined {
    if (!this.mayHave(k)) return undefined;
    for (let i = this.lowerBound(k); i < this.keys.length && this.keys[i] === k; i++) if (confirm(this.refs[i])) return this.refs[i];
    return undefined;
  }
}

/** FNV-1a of `s` from index `from` on (a domain's parent, without slicing it out). */
function fnv1a(s: string, from = 0): number {
  let h = 0x811c9dc5;
  for (let i = from; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** The first 32 bits of a hex string (its first 8 digits), or -1 when one of them is not a hex digit. */
function hexPrefix32(hex: string): number {
  let v = 0;
  for (let i = 0; i < 8; i++) {
    const c = hex.charCodeAt(i) | 32;
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

/** Collects (key, ref) pairs for a SortedKeys. */
class PairBuilder {
  private pairs = new Float64Array(1024);
  length = 0;

  add(key: number, ref: number): void {
    if (this.length === this.pairs.length) {
      const grown = new Float64Array(this.pairs.length * 2);
      grown.set(this.pairs);
      this.pairs = grown;
    }
    this.pairs[this.length++] = key * MAX_PER_TABLE + ref;
  }

  build(): SortedKeys {
    return new SortedKeys(this.pairs.subarray(0, this.length));
  }
}

/** A name as listed domains are kept (lower case, no trailing dot); not validated: a malformed name just matches nothing. */
function lookupForm(name: string): string | undefined {
  const d = name.endsWith('.') ? name.slice(0, -1) : name;
  if (!d) return undefined;
  for (let i = 0; i < d.length; i++) {
    const c = d.charCodeAt(i);
    if (c >= 65 && c <= 90) return d.toLowerCase();
  }
  return d;
}

/** Where the label after the one starting at `from` starts, or -1. */
function nextLabel(d: string, from: number): number {
  const dot = d.indexOf('.', from);
  return dot < 0 ? -1 : dot + 1;
}

const hexDigit = (c: number): number => (c <= 57 ? c - 48 : (c | 32) - 87);

/** Lower- or upper-case hex (already checked) into `buf` at `at` (Buffer.write(…, 'hex') costs a native call each). */
function writeHex(buf: Buffer, at: number, hex: string): void {
  for (let i = 0; i < hex.length; i += 2) buf[at + (i >>> 1)] = (hexDigit(hex.charCodeAt(i)) << 4) | hexDigit(hex.charCodeAt(i + 1));
}

const HASH_BYTES: Record<'sha256' | 'sha1' | 'md5', number> = { sha256: 32, sha1: 20, md5: 16 };
type HashType = keyof typeof HASH_BYTES;

/** The hashes of one algorithm: bytes packed in entry order. */
class HashTable {
  readonly width: number;
  private bytes: Buffer;
  private readonly meta: number[] = []; // entry → indicator index
  private readonly pairs = new PairBuilder();
  private index: SortedKeys | undefined;

  constructor(width: number) {
    this.width = width;
    this.bytes = Buffer.alloc(width * 1024);
  }

  add(hex: string, indicator: number): void {
    const entry = this.meta.length;
    if ((entry + 1) * this.width > this.bytes.length) {
      const grown = Buffer.alloc(this.bytes.length * 2);
      this.bytes.copy(grown);
      this.bytes = grown;
    }
    writeHex(this.bytes, entry * this.width, hex);
    this.meta.push(indicator);
    this.pairs.add(this.bytes.readUInt32BE(entry * this.width), entry);
  }

  seal(): void {
    this.index = this.pairs.build();
    this.bytes = Buffer.from(this.bytes.subarray(0, this.meta.length * this.width));
  }

  get size(): number { return this.meta.length; }

  /**
   * `hex` (of this table's width) looked up: by its first 32 bits, then, only when an entry has them, decoded into
   * `scratch` (after checking it is all hex) and compared in full. Most probes end at the first step.
   */
  find(hex: string, scratch: Buffer): number | undefined {
    if (!this.index || this.meta.length === 0) return undefined;
    const key = hexPrefix32(hex);
    if (key < 0 || !this.index.mayHave(key)) return undefined;
    const keys = this.index.keys;
    let i = this.index.lowerBound(key);
    if (i >= keys.length || keys[i] !== key || !isHex(hex)) return undefined;
    writeHex(scratch, 0, hex);
    for (; i < keys.length && keys[i] === key; i++) {
      const e = this.index.refs[i];
      if (scratch.compare(this.bytes, e * this.width, (e + 1) * this.width, 0, this.width) === 0) return this.meta[e];
    }
    return undefined;
  }
}

export class IndicatorMatcher {
  private readonly hashes: Record<HashType, HashTable> = { sha256: new HashTable(32), sha1: new HashTable(20), md5: new HashTable(16) };
  private readonly ipv4Build = new Map<number, PairBuilder>();
  private readonly ipv4 = new Map<number, SortedKeys>();
  /** The IPv4 tables, most specific prefix first. */
  private ipv4Tables: { prefix: number; mask: number; table: SortedKeys }[] = [];
  private readonly ipv6 = new Map<number, Map<string, number>>();
  private ipv6Prefixes: number[] = [];
  private readonly domainNames: string[] = [];
  private readonly domainRefs: number[] = []; // domain entry → indicator index
  private readonly domainBuild = new PairBuilder();
  private domains: SortedKeys | undefined;
  private readonly confidence: Uint8Array;
  private readonly expiry: Uint32Array;
  private readonly ipv6Values = new Map<number, string>();
  private count = 0;
  private readonly scratch = Buffer.alloc(32); // a probed hash's bytes

  /** Indicators already in normal form (parse.ts); `defaultConfidence` for those without one. */
  constructor(indicators: readonly Indicator[], defaultConfidence = 50) {
    this.confidence = new Uint8Array(indicators.length);
    this.expiry = new Uint32Array(indicators.length);
    for (const ind of indicators) this.add(ind, defaultConfidence);
    this.seal();
  }

  get size(): number { return this.count; }

  private add(ind: Indicator, defaultConfidence: number): void {
    const i = this.count;
    const added = this.insert(ind, i);
    if (!added) return;
    this.confidence[i] = Math.max(0, Math.min(100, Math.round(ind.confidence ?? defaultConfidence)));
    this.expiry[i] = ind.expiresAt ? Math.ceil(ind.expiresAt / 1000) : 0;
    this.count++;
  }

  private insert(ind: Indicator, i: number): boolean {
    switch (ind.type) {
      case 'sha256': case 'sha1': case 'md5': {
        const t = this.hashes[ind.type];
        if (t.size >= MAX_PER_TABLE) return false;
        t.add(ind.value, i);
        return true;
      }
      case 'ipv4': {
        const [addr, p] = ind.value.split('/');
        const prefix = p === undefined ? 32 : Number(p);
        const n = ipv4ToNumber(addr);
        if (n === undefined) return false;
        let b = this.ipv4Build.get(prefix);
        if (!b) this.ipv4Build.set(prefix, (b = new PairBuilder()));
        if (b.length >= MAX_PER_TABLE) return false;
        b.add((n & ipv4Mask(prefix)) >>> 0, i);
        return true;
      }
      case 'ipv6': {
        const [addr, p] = ind.value.split('/');
        const prefix = p === undefined ? 128 : Number(p);
        const bytes = ipv6ToBytes(addr);
        if (!bytes) return false;
        let m = this.ipv6.get(prefix);
        if (!m) this.ipv6.set(prefix, (m = new Map()));
        m.set(bytesToHex(maskIpv6(bytes, prefix)), i);
        this.ipv6Values.set(i, ind.value);
        return true;
      }
      case 'domain': {
        if (this.domainNames.length >= MAX_PER_TABLE) return false;
        this.domainBuild.add(fnv1a(ind.value), this.domainNames.length);
        this.domainNames.push(ind.value);
        this.domainRefs.push(i);
        return true;
      }
    }
  }

  private seal(): void {
    for (const t of Object.values(this.hashes)) t.seal();
    for (const [prefix, b] of this.ipv4Build) this.ipv4.set(prefix, b.build());
    this.ipv4Build.clear();
    this.ipv4Tables = [...this.ipv4.keys()].sort((a, b) => b - a).map((prefix) => ({ prefix, mask: ipv4Mask(prefix), table: this.ipv4.get(prefix)! }));
    this.ipv6Prefixes = [...this.ipv6.keys()].sort((a, b) => b - a);
    this.domains = this.domainBuild.build();
  }

  private hit(type: IndicatorType, value: string, i: number, now: number): IndicatorHit | undefined {
    const exp = this.expiry[i];
    if (exp !== 0 && exp * 1000 <= now) return undefined;
    return { type, value, confidence: this.confidence[i], ...(exp ? { expiresAt: exp * 1000 } : {}) };
  }

  /** A file hash (SHA-256, SHA-1 or MD5 by its length). */
  matchHash(hex: string, now: number): IndicatorHit | undefined {
    const type = hex.length === 64 ? 'sha256' : hex.length === 40 ? 'sha1' : hex.length === 32 ? 'md5' : undefined;
    if (!type || this.hashes[type].size === 0) return undefined;
    const i = this.hashes[type].find(hex, this.scratch);
    return i === undefined ? undefined : this.hit(type, hex.toLowerCase(), i, now);
  }

  /** An address, against the listed addresses and networks (most specific first). */
  matchIp(address: string, now: number): IndicatorHit | undefined {
    const a = address.charCodeAt(0) === 58 ? unmapIpv4(address) : address; // ':': maybe ::ffff:a.b.c.d
    const v4 = ipv4ToNumber(a);
    if (v4 !== undefined) {
      for (const { prefix, mask, table } of this.ipv4Tables) {
        const net = (v4 & mask) >>> 0;
        const i = table.findExact(net);
        if (i !== undefined) {
          const h = this.hit('ipv4', prefix === 32 ? numberToIpv4(net) : `${numberToIpv4(net)}/${prefix}`, i, now);
          if (h) return h;
        }
      }
      return undefined;
    }
    const v6 = this.ipv6Prefixes.length ? ipv6ToBytes(a) : undefined;
    if (!v6) return undefined;
    for (const prefix of this.ipv6Prefixes) {
      const i = this.ipv6.get(prefix)!.get(bytesToHex(maskIpv6(v6, prefix)));
      const h = i === undefined ? undefined : this.hit('ipv6', this.ipv6Values.get(i)!, i, now);
      if (h) return h;
    }
    return undefined;
  }

  /** A domain name: itself or its nearest listed parent domain. */
  matchDomain(name: string, now: number): IndicatorHit | undefined {
    if (!this.domains || this.domainNames.length === 0) return undefined;
    const d = lookupForm(name);
    if (!d) return undefined;
    const keys = this.domains.keys;
    // The name, then each parent that still has a dot (a top-level domain alone is never matched as a parent).
    for (let from = 0; from >= 0 && (from === 0 || d.indexOf('.', from) > 0); from = nextLabel(d, from)) {
      const key = fnv1a(d, from);
      if (!this.domains.mayHave(key)) continue;
      let i = this.domains.lowerBound(key);
      if (i >= keys.length || keys[i] !== key) continue;
      const candidate = from === 0 ? d : d.slice(from);
      for (; i < keys.length && keys[i] === key; i++) {
        const r = this.domains.refs[i];
        if (this.domainNames[r] !== candidate) continue;
        const h = this.hit('domain', candidate, this.domainRefs[r], now);
        if (h) return h;
      }
    }
    return undefined;
  }
}
