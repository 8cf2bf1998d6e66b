// Wu–Manber multi-pattern substring search for lowercase patterns, case-insensitive (the same folding as
// the predicates' toLowerCase for every character that lowercases to one Latin-1 character). It looks at
// the last two characters of a window as long as the shortest pattern and skips ahead by how far that pair
// is from the end of every pattern's prefix, so on long texts with long literals (keyword lists over every
// value, call traces, script blocks) it reads a fraction of the characters the automaton reads. The rule
// index uses it when its expected skip is large, with literals of one or two characters found by native
// search of their case variants; the Aho–Corasick DFA covers every other literal set (`literalScanner`).
// A pre-filter: it may report a pattern that a character above U+00FF only resembles; predicates decide. Pure.

import { AhoCorasick } from './aho.ts';

/** Finds which of a set of lowercase literals occur in a text; reports pattern ids, possibly repeatedly. */
export interface LiteralScanner {
  readonly minLength: number; // no pattern is shorter: shorter texts need no scan
  scan(text: string, hit: (id: number) => void): void;
}

/** Character → its lowercase Latin-1 code; OTHER for characters that do not lowercase into Latin-1. */
const FOLD = new Uint8Array(65536);
const OTHER = 0x41; // 'A' never results from folding, so it can stand for "any other character"
for (let c = 0; c < 65536; c++) {
  const l = String.fromCharCode(c).toLowerCase();
  FOLD[c] = l.length === 1 && l.charCodeAt(0) < 256 ? l.charCodeAt(0) : OTHER;
}

const TEXT_SAMPLE = 'abcdefghijklmnopqrstuvwxyz0123456789\\/.:-_ ';
/** Literals shorter than this cannot drive a skip scan. */
const SHORT = 3;
/** Below this expected skip the automaton (one array read per character) is as fast. */
const MIN_EXPECTED_SKIP = 2.5;

export class SkipScanner implements LiteralScanner {
  /** Length of the shortest pattern: the window the shift table is built on. */
  readonly window: number;
  readonly minLength: number;
  private readonly shift = new Uint8Array(65536); // folded pair at the window's end → safe skip
  private readonly latin1Shift = new Uint8Array(65536); // the same for a pair of Latin-1 characters as found
  private readonly candidates = new Map<number, number[]>(); // pair ending a pattern's prefix → pattern ids
  private readonly folded: Uint8Array[];

  constructor(patterns: string[]) {
    this.window = Math.min(255, ...patterns.map((p) => p.length));
    const m = this.window;
    this.minLength = m;
    if (m < SHORT) throw new Error(`skip scan needs literals of at least ${SHORT} characters`);
    this.shift.fill(m - 1);
    this.folded = patterns.map((p) => Uint8Array.from(p, (ch) => FOLD[ch.charCodeAt(0)]));
    this.folded.forEach((f, id) => {
      for (let j = 0; j + 1 < m; j++) {
        const pair = (f[j] << 8) | f[j + 1];
        this.shift[pair] = Math.min(this.shift[pair], m - 2 - j);
      }
      const last = (f[m - 2] << 8) | f[m - 1];
      const list = this.candidates.get(last);
      if (list) list.push(id); else this.candidates.set(last, [id]);
    });
    for (let a = 0; a < 256; a++) for (let b = 0; b < 256; b++) this.latin1Shift[(a << 8) | b] = this.shift[(FOLD[a] << 8) | FOLD[b]];
  }

  /** Mean skip over pairs of common text characters (a step of the automaton advances one character). */
  expectedSkip(): number {
    let sum = 0;
    for (const a of TEXT_SAMPLE) for (const b of TEXT_SAMPLE) sum += this.shift[(FOLD[a.charCodeAt(0)] << 8) | FOLD[b.charCodeAt(0)]];
    return sum / (TEXT_SAMPLE.length * TEXT_SAMPLE.length);
  }

  /** Calls `hit` with the id of every pattern occurring in `text` (an id may be reported more than once). */
  scan(text: string, hit: (id: number) => void): void {
    const { shift, latin1Shift, folded } = this;
    const m = this.window;
    const n = text.length;
    for (let i = m - 1; i < n;) {
      const a = text.charCodeAt(i - 1);
      const b = text.charCodeAt(i);
      const s = (a | b) < 256 ? latin1Shift[(a << 8) | b] : shift[(FOLD[a] << 8) | FOLD[b]];
      if (s > 0) { i += s; continue; }
      const pair = (FOLD[a] << 8) | FOLD[b];
      const start = i - m + 1;
      for (const id of this.candidates.get(pair) as number[]) {
        const f = folded[id];
        if (start + f.length > n) continue;
        let k = 0;
        while (k < f.length && FOLD[text.charCodeAt(start + k)] === f[k]) k++;
        if (k === f.length) hit(id);
      }
      i++;
    }
  }
}

/** Characters that fold to each Latin-1 code (the case variants a native search must try). */
function foldVariants(code: number): string[] {
  const out: string[] = [];
  for (let c = 0; c < 65536; c++) if (FOLD[c] === code) out.push(String.fromCharCode(c));
  return out;
}

/** Case variants of a short lowercase literal: every string folding to it. */
function caseVariants(p: string): string[] {
  let out = [''];
  for (const ch of p) {
    const code = ch.charCodeAt(0);
    const chars = code < 256 && code !== OTHER ? foldVariants(code) : [ch, ch.toUpperCase()];
    out = out.flatMap((prefix) => chars.map((c) => prefix + c));
  }
  return out;
}

/** Literals of one or two characters, found with native substring search of each case variant. */
class ShortLiteralScanner implements LiteralScanner {
  readonly minLength = 1;
  private readonly variants: { text: string; id: number }[] = [];
  constructor(patterns: { pattern: string; id: number }[]) {
    for (const { pattern, id } of patterns) for (const text of caseVariants(pattern)) this.variants.push({ text, id });
  }

  scan(text: string, hit: (id: number) => void): void {
    for (const v of this.variants) if (text.includes(v.text)) hit(v.id);
  }
}

/** Long literals by skip scanner, short ones by native search. */
class SplitScanner implements LiteralScanner {
  readonly minLength = 1;
  private readonly long: SkipScanner;
  private readonly longIds: number[];
  private readonly short: ShortLiteralScanner;
  private hit: (id: number) => void = () => {};
  private readonly longHit = (id: number): void => this.hit(this.longIds[id]);

  constructor(long: SkipScanner, longIds: number[], short: ShortLiteralScanner) {
    this.long = long;
    this.longIds = longIds;
    this.short = short;
  }

  scan(text: string, hit: (id: number) => void): void {
    this.hit = hit;
    this.long.scan(text, this.longHit);
    this.short.scan(text, hit);
  }
}

const MAX_SHORT_VARIANTS = 8;

/**
 * The scanner for a field's literals: a skip scanner when the long literals allow large skips (and the
 * short ones, if any, are few), otherwise one Aho–Corasick automaton.
 */
export function literalScanner(patterns: string[]): LiteralScanner {
  const ids = patterns.map((_, id) => id);
  const longIds = ids.filter((id) => patterns[id].length >= SHORT);
  const shortIds = ids.filter((id) => patterns[id].length < SHORT);
  if (longIds.length > 0) {
    const skip = new SkipScanner(longIds.map((id) => patterns[id]));
    if (skip.expectedSkip() >= MIN_EXPECTED_SKIP) {
      if (shortIds.length === 0) return skip;
      const short = new ShortLiteralScanner(shortIds.map((id) => ({ pattern: patterns[id], id })));
      if (shortIds.reduce((n, id) => n + caseVariants(patterns[id]).length, 0) <= MAX_SHORT_VARIANTS) return new SplitScanner(skip, longIds, short);
    }
  }
  return new AhoCorasick(patterns);
}
