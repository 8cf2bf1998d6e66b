// Exact data match: building a data set's fingerprint set from rows (records: chosen CSV columns, each cell
// normalised per its column type; documents: winnowed windows), and matching text against loaded sets. A record
// matches when one line of the scanned text holds at least `minCells` distinct protected cells of the set (a
// name alone is not a customer record; a name and a card number on one line are). Cells are looked for as whole
// fields of a line (split on , ; tab |) and, for one-token types (card, digits, id, e-mail), as tokens anywhere.
// Pure.

import { Fingerprinter, FingerprintSet, FingerprintSetBuilder, prehashFinish, prehashStart, prehashStep, type FingerprintSetMeta } from './fingerprint.ts';
import { MIN_LENGTH } from './normalise.ts';
import { COLUMN_TAG, isTokenType, MAX_CELL_LENGTH, normaliseCell, type ColumnType } from './normalise.ts';
import { normaliseDocument, winnow, WINNOW_K } from './winnow.ts';
import { maskAll } from './mask.ts';

export interface RecordColumn {
  name: string;
  type: ColumnType;
  /** Set by the build: the longest normalised cell, and whether any normalised cell holds a digit. */
  maxLength?: number;
  digits?: boolean;
}

/** Fingerprints the chosen columns of rows (cells too short for their type are skipped). */
export function buildRecordSet(fp: Fingerprinter, name: string, version: string, columns: { index: number; column: RecordColumn }[], rows: Iterable<readonly string[]>): FingerprintSet {
  const builder = new FingerprintSetBuilder(fp);
  const maxLength = columns.map(() => 0);
  const digits = columns.map(() => false);
  let count = 0;
  for (const row of rows) {
    count++;
    columns.forEach(({ index, column }, c) => {
      const v = row[index] === undefined ? null : normaliseCell(column.type, row[index]!);
      if (v === null) return;
      builder.addCell(column.type, v);
      if (v.length > maxLength[c]!) maxLength[c] = v.length;
      if (!digits[c] && /\d/.test(v)) digits[c] = true;
    });
  }
  const described = columns.map((c, i) => ({ ...c.column, maxLength: maxLength[i]!, digits: digits[i]! }));
  return builder.build({ name, version, kind: 'records', columns: described, rows: count });
}

/** Fingerprints the winnowed windows of documents. */
export function buildDocumentSet(fp: Fingerprinter, name: string, version: string, documents: Iterable<string>): FingerprintSet {
  const builder = new FingerprintSetBuilder(fp);
  let count = 0;
  for (const doc of documents) {
    count++;
    const text = normaliseDocument(doc);
    winnow(text, fp.seed, (pos) => builder.add(COLUMN_TAG.document, text.slice(pos, pos + WINNOW_K)));
  }
  const meta: FingerprintSetMeta = { name, version, kind: 'document', columns: [], rows: count };
  return builder.build(meta);
}

/** A protected cell (or document window) seen in scanned text. */
export interface EdmHit {
  set: number;
  /** Line number in the scanned stream (records) or -1 (documents). */
  line: number;
  /** The fingerprint with its type tag, as a string key. */
  key: string;
  excerpt: string;
}

/** Digit runs with single space or dash separators; their token boundaries are checked by hand (isWordChar). */
const DIGIT_RUN = /\d(?:[ -]?\d){5,22}/g;
const ID_TOKEN = /(?<![\w-])(?=[A-Za-z0-9-]*\d)[A-Za-z0-9][A-Za-z0-9-]{3,30}(?![\w-])/g;
const EMAIL_STOP = /[\s,;<>"'()[\]]/;

function isWordChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}

const FIELD_END = /[\n\r,;\t|]/g;

/** Offsets of the newlines of `text`, for line numbers of matches found over the whole text. */
function newlines(text: string): number[] {
  const out: number[] = [];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) out.push(i);
  return out;
}

function lineOf(nl: readonly number[], pos: number): number {
  let lo = 0;
  let hi = nl.length;
  while (lo < hi) { const mid = (lo + hi) >>> 1; if (nl[mid]! < pos) lo = mid + 1; else hi = mid; }
  return lo;
}

/**
 * The prehash of text[from, to) normalised as `type` (normalise.ts), computed without building the string, and
 * the normalised length in `prehashed.length`; undefined when the fast path does not apply (a character outside
 * printable ASCII: the caller normalises the string instead); null when the value cannot be a cell of the type
 * (too short; longer than `maxLength` for words; a digit when `digits` is false because the column's cells hold
 * none).
 */
const prehashed = { hash: 0, length: 0 };
function prehashNormalised(seed: number, type: ColumnType, text: string, from: number, to: number, digits = true, maxLength = MAX_CELL_LENGTH): typeof prehashed | null | undefined {
  let h = prehashStart(seed, COLUMN_TAG[type]);
  let n = 0;
  if (type === 'card' || type === 'digits') {
    for (let i = from; i < to; i++) {
      const c = text.charCodeAt(i);
      if (c >= 48 && c <= 57) { h = prehashStep(h, c); n++; }
    }
    if (type === 'card' && n > 19) return null;
  } else if (type === 'id') {
    for (let i = from; i < to; i++) {
      let c = text.charCodeAt(i);
      if (c > 0x7e) return undefined;
      if (c >= 97 && c <= 122) c -= 32;
      if ((c >= 65 && c <= 90) || (c >= 48 && c <= 57)) { h = prehashStep(h, c); n++; }
    }
  } else {
    const words = type === 'name' || type === 'text';
    let pendingSpace = false;
    for (let i = from; i < to; i++) {
      let c = text.charCodeAt(i);
      if (c < 0x20 || c > 0x7e) return undefined;
      if (c >= 65 && c <= 90) c += 32;
      const digit = c >= 48 && c <= 57;
      if (digit && !digits) return null;
      const alnum = (c >= 97 && c <= 122) || digit;
      if (words && !alnum) { pendingSpace = n > 0; continue; }
      if (!words && c === 32) return null;
      if (pendingSpace) { h = prehashStep(h, 32); n++; pendingSpace = false; }
      h = prehashStep(h, c);
      if (++n > maxLength) return null;
    }
  }
  if (n < MIN_LENGTH[type]) return null;
  prehashed.hash = prehashFinish(h);
  prehashed.length = n;
  return prehashed;
}

/** Matches text against loaded sets; one fingerprinter (the tenant's key) for all. */
export class EdmMatcher {
  readonly sets: readonly FingerprintSet[];
  private readonly fp: Fingerprinter;
  private readonly out = new Uint32Array(2);
  /** Types looked for as whole fields, with the longest raw field worth normalising. */
  private readonly fieldTypes: { type: ColumnType; maxRaw: number; maxLength: number; digits: boolean }[];
  private readonly tokenTypes: ColumnType[];
  private readonly hasDocuments: boolean;

  constructor(fp: Fingerprinter, sets: readonly FingerprintSet[]) {
    this.fp = fp;
    this.sets = sets;
    const columns = sets.filter((s) => s.meta.kind === 'records').flatMap((s) => s.meta.columns);
    const types = [...new Set(columns.map((c) => c.type))];
    this.tokenTypes = types.filter(isTokenType);
    this.fieldTypes = types.filter((t) => !isTokenType(t)).map((type) => {
      const of = columns.filter((c) => c.type === type);
      const longest = Math.max(...of.map((c) => c.maxLength ?? MAX_CELL_LENGTH));
      return { type, maxRaw: Math.min(MAX_CELL_LENGTH, 2 * longest + 8), maxLength: Math.min(MAX_CELL_LENGTH, longest), digits: of.some((c) => c.digits !== false) };
    });
    this.hasDocuments = sets.some((s) => s.meta.kind === 'document');
  }

  get empty(): boolean { return this.sets.length === 0; }

  private lookup(tag: number, value: string, line: number, raw: string, emit: (h: EdmHit) => void): void {
    const pre = this.fp.prehash(tag, value);
    let hashed = false;
    for (let s = 0; s < this.sets.length; s++) {
      const set = this.sets[s]!;
      if (!set.mayContain(pre)) continue;
      if (!hashed) { this.fp.fingerprint(tag, value, this.out); hashed = true; }
      if (set.has(this.out[0]!, this.out[1]!)) emit({ set: s, line, key: `${tag}:${this.out[0]}:${this.out[1]}`, excerpt: maskAll(raw) });
    }
  }

  private candidate(type: ColumnType, raw: string, line: number, emit: (h: EdmHit) => void): void {
    const v = normaliseCell(type, raw);
    if (v !== null) this.lookup(COLUMN_TAG[type], v, line, raw.trim(), emit);
  }

  /** text[from, to) as a cell of `type`: prehashed in place; normalised, hashed and looked up only if it may match. */
  private span(type: ColumnType, text: string, from: number, to: number, line: number, emit: (h: EdmHit) => void, digits = true, maxLength = MAX_CELL_LENGTH): void {
    if (to - from > MAX_CELL_LENGTH) return;
    const pre = prehashNormalised(this.fp.seed, type, text, from, to, digits, maxLength);
    if (pre === null) return;
    if (pre !== undefined && !this.sets.some((s) => s.mayContain(pre.hash))) return;
    this.candidate(type, text.slice(from, to), line, emit);
  }

  /**
   * Looks up the fields and tokens of complete lines; `firstLine` numbers the first of them. Fields are cut at
   * , ; tab | and line ends; only fields short enough to be a protected cell are normalised.
   */
  matchText(text: string, firstLine: number, emit: (h: EdmHit) => void): void {
    if (this.fieldTypes.length > 0) this.matchFields(text, firstLine, emit);
    if (this.tokenTypes.length === 0) return;
    const nl = newlines(text);
    const digitTypes = this.tokenTypes.filter((t) => t === 'card' || t === 'digits');
    if (digitTypes.length > 0) {
      DIGIT_RUN.lastIndex = 0;
      for (let m = DIGIT_RUN.exec(text); m !== null; m = DIGIT_RUN.exec(text)) {
        const end = m.index + m[0].length;
        if (isWordChar(text.charCodeAt(m.index - 1)) || isWordChar(text.charCodeAt(end))) continue;
        const line = firstLine + lineOf(nl, m.index);
        for (const type of digitTypes) this.span(type, text, m.index, end, line, emit);
      }
    }
    if (this.tokenTypes.includes('email')) this.matchEmails(text, nl, firstLine, emit);
    if (this.tokenTypes.includes('id')) {
      ID_TOKEN.lastIndex = 0;
      for (let m = ID_TOKEN.exec(text); m !== null; m = ID_TOKEN.exec(text)) this.span('id', text, m.index, m.index + m[0].length, firstLine + lineOf(nl, m.index), emit);
    }
  }

  private matchFields(text: string, firstLine: number, emit: (h: EdmHit) => void): void {
    const maxRaw = Math.max(...this.fieldTypes.map((f) => f.maxRaw));
    let line = firstLine;
    let start = 0;
    FIELD_END.lastIndex = 0;
    for (;;) {
      const m = FIELD_END.exec(text);
      const end = m === null ? text.length : m.index;
      const len = end - start;
      if (len >= 3 && len <= maxRaw) {
        for (const f of this.fieldTypes) if (len <= f.maxRaw) this.span(f.type, text, start, end, line, emit, f.digits, f.maxLength);
      }
      if (m === null) return;
      if (text.charCodeAt(end) === 10) line++;
      start = end + 1;
    }
  }

  private matchEmails(text: string, nl: readonly number[], firstLine: number, emit: (h: EdmHit) => void): void {
    for (let at = text.indexOf('@'); at >= 0; at = text.indexOf('@', at + 1)) {
      let a = at;
      while (a > 0 && at - a < 64 && !EMAIL_STOP.test(text[a - 1]!)) a--;
      let b = at + 1;
      while (b < text.length && b - at < 255 && !EMAIL_STOP.test(text[b]!)) b++;
      this.span('email', text, a, b, firstLine + lineOf(nl, at), emit);
    }
  }

  /** Looks up the winnowed windows of a piece of document text. */
  matchDocument(text: string, emit: (h: EdmHit) => void): void {
    if (!this.hasDocuments) return;
    const norm = normaliseDocument(text);
    winnow(norm, this.fp.seed, (pos) => this.lookup(COLUMN_TAG.document, norm.slice(pos, pos + WINNOW_K), -1, '', emit));
  }
}
