// Sigma value modifiers: turns one detection item (`Field|mod1|mod2: value(s)`) into IR condition nodes.
// Owns the value transformations (expand, windash, utf16*, base64, base64offset), the Sigma string escaping
// rules, and the validation of modifier combinations. Pure.

import type { ConditionNode, FieldNode, KeywordNode, MatchOp, TimePart } from './ir.ts';
import { and, not, or } from './ir.ts';

export class CompileError extends Error {}

export type Placeholders = Record<string, string[]>;

const TIME_PARTS = new Set<string>(['minute', 'hour', 'day', 'week', 'month', 'year']);
const COMPARE = new Set<string>(['lt', 'lte', 'gt', 'gte']);
const STRING_MATCH = new Set<string>(['contains', 'startswith', 'endswith']);
const ENCODERS = new Set<string>(['base64', 'base64offset']);
const WIDE = new Set<string>(['wide', 'utf16le', 'utf16be', 'utf16']);
const KNOWN = new Set<string>([
  'all', 'cased', 'neq', 'exists', 'windash', 're', 'i', 'm', 's', 'ignorecase', 'multiline', 'dotall',
  'cidr', 'expand', 'fieldref', ...TIME_PARTS, ...COMPARE, ...STRING_MATCH, ...ENCODERS, ...WIDE,
]);
const RE_FLAG: Record<string, string> = { i: 'i', ignorecase: 'i', m: 'm', multiline: 'm', s: 's', dotall: 's' };

/** A value while it is being transformed: Sigma string text, or encoded bytes. */
type Work = { kind: 'str'; s: string } | { kind: 'bytes'; b: Buffer };

export type RawValue = string | number | boolean | null;

interface Plan {
  all: boolean;
  cased: boolean;
  neq: boolean;
  op: MatchOp | undefined;
  flags: string;
  timepart?: TimePart;
  transforms: string[]; // expand, windash, wide…, base64… in written order
}

function plan(mods: string[]): Plan {
  const p: Plan = { all: false, cased: false, neq: false, op: undefined, flags: '', transforms: [] };
  const setOp = (op: MatchOp, m: string): void => {
    if (p.op && !(p.op === 'fieldref' && STRING_MATCH.has(m)) && !(STRING_MATCH.has(p.op) && m === 'fieldref')) {
      throw new CompileError(`modifiers '${p.op}' and '${m}' cannot be combined`);
    }
    p.op = p.op === 'fieldref' || op === 'fieldref' ? 'fieldref' : op;
  };
  let fieldrefMatch: string | undefined;
  for (const m of mods) {
    if (!KNOWN.has(m)) throw new CompileError(`unknown value modifier '${m}'`);
    if (m === 'all') p.all = true;
    else if (m === 'cased') p.cased = true;
    else if (m === 'neq') p.neq = true;
    else if (m in RE_FLAG) {
      if (p.op !== 're') throw new CompileError(`regular expression flag '${m}' without a preceding 're'`);
      p.flags += RE_FLAG[m];
    } else if (TIME_PARTS.has(m)) p.timepart = m as TimePart;
    else if (m === 'expand' || m === 'windash' || WIDE.has(m) || ENCODERS.has(m)) p.transforms.push(m);
    else {
      if (STRING_MATCH.has(m)) fieldrefMatch = m;
      setOp(m as MatchOp, m);
    }
  }
  if (p.op === 'fieldref' && fieldrefMatch) p.flags = fieldrefMatch; // carried to the node below
  if (p.timepart && p.op && !COMPARE.has(p.op)) throw new CompileError(`time modifier '${p.timepart}' cannot be combined with '${p.op}'`);
  if (p.transforms.some((t) => ENCODERS.has(t) || WIDE.has(t)) && p.op && (p.op === 're' || p.op === 'cidr' || COMPARE.has(p.op))) {
    throw new CompileError(`encoding modifiers cannot be combined with '${p.op}'`);
  }
  const wideAt = p.transforms.findIndex((t) => WIDE.has(t));
  const encAt = p.transforms.findIndex((t) => ENCODERS.has(t));
  if (wideAt >= 0 && (encAt < 0 || encAt < wideAt)) throw new CompileError('utf16/wide modifiers must be followed by base64 or base64offset');
  if (p.transforms.includes('base64offset') && p.op && p.op !== 'contains') throw new CompileError(`'base64offset' requires 'contains', not '${p.op}'`);
  return p;
}

/** Sigma string → array of tokens: literal characters, or the wildcards `*` and `?` (pySigma escaping). */
export type Token = string | typeof STAR | typeof QMARK;
export const STAR = Symbol('*');
export const QMARK = Symbol('?');

export function tokenize(s: string): Token[] {
  const out: Token[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\') {
      const n = s[i + 1];
      if (n === '*' || n === '?' || n === '\\') { out.push(n); i++; } else out.push('\\');
    } else if (c === '*') out.push(STAR);
    else if (c === '?') out.push(QMARK);
    else out.push(c);
  }
  return out;
}

/** Escapes plain text so that it is read back literally as a Sigma string. */
export function escapeSigma(text: string): string {
  return text.replace(/[\\*?]/g, (c) => `\\${c}`);
}

function plainText(s: string): string {
  const toks = tokenize(s);
  if (toks.some((t) => typeof t !== 'string')) throw new CompileError(`wildcards cannot be encoded ('${s}')`);
  return toks.join('');
}

const WINDASH_CHARS = ['-', '/', '\u2013', '\u2014', '\u2015'];
const WINDASH_POS = /(?<![\p{L}\p{N}_])[-/\u2013\u2014\u2015](?=[\p{L}\p{N}_])/gu;
const WINDASH_MAX_POSITIONS = 6;

/** Every permutation of the dash characters at flag positions (a dash not after a word char, before one). */
export function windash(s: string): string[] {
  const positions = [...s.matchAll(WINDASH_POS)].map((m) => m.index);
  if (positions.length > WINDASH_MAX_POSITIONS) throw new CompileError(`windash on a value with more than ${WINDASH_MAX_POSITIONS} flags`);
  let acc = [''];
  let last = 0;
  for (const pos of positions) {
    const chunk = s.slice(last, pos);
    acc = acc.flatMap((prefix) => WINDASH_CHARS.map((d) => prefix + chunk + d));
    last = pos + 1;
  }
  return acc.map((prefix) => prefix + s.slice(last));
}

function encodeWide(s: string, mod: string): Buffer {
  if (mod === 'utf16be') return Buffer.from(s, 'utf16le').swap16();
  const le = Buffer.from(s, 'utf16le');
  return mod === 'utf16' ? Buffer.concat([Buffer.from([0xff, 0xfe]), le]) : le;
}

/** The three base64 forms of `b` at byte offsets 0, 1 and 2 inside a longer encoded text. */
export function base64Offsets(b: Buffer): string[] {
  const starts = [0, 2, 3];
  const ends = [0, -3, -2];
  const out: string[] = [];
  for (let i = 0; i < 3; i++) {
    const enc = Buffer.concat([Buffer.alloc(i, ' '), b]).toString('base64');
    const end = ends[(b.length + i) % 3];
    out.push(enc.slice(starts[i], end === 0 ? undefined : end));
  }
  return out;
}

function expandPlaceholders(s: string, placeholders: Placeholders | undefined): string[] {
  const names = [...s.matchAll(/%([A-Za-z0-9_.-]+)%/g)].map((m) => m[1]);
  if (names.length === 0) return [s];
  let acc = [s];
  for (const name of new Set(names)) {
    const values = placeholders?.[name];
    if (!values || values.length === 0) throw new CompileError(`placeholder %${name}% is not configured`);
    acc = acc.flatMap((v) => values.map((x) => v.split(`%${name}%`).join(x)));
  }
  return acc;
}

function transform(values: Work[], t: string, placeholders: Placeholders | undefined): Work[] {
  const strs = (fn: (s: string) => string[]): Work[] => values.flatMap((v) => {
    if (v.kind !== 'str') throw new CompileError(`'${t}' cannot follow an encoding modifier`);
    return fn(v.s).map((s) => ({ kind: 'str', s }) as Work);
  });
  if (t === 'expand') return strs((s) => expandPlaceholders(s, placeholders));
  if (t === 'windash') return strs(windash);
  if (WIDE.has(t)) return values.map((v) => {
    if (v.kind !== 'str') throw new CompileError(`'${t}' applied twice`);
    return { kind: 'bytes', b: encodeWide(plainText(v.s), t) };
  });
  // base64 / base64offset
  return values.flatMap((v) => {
    const b = v.kind === 'bytes' ? v.b : Buffer.from(plainText(v.s), 'utf8');
    const encoded = t === 'base64' ? [b.toString('base64')] : base64Offsets(b);
    return encoded.map((s) => ({ kind: 'str', s: escapeSigma(s) }) as Work);
  });
}

function asString(v: RawValue): string {
  return typeof v === 'string' ? v : String(v);
}

function leaf(field: string | undefined, p: Plan, value: RawValue): ConditionNode {
  const op: MatchOp = p.op ?? 'equals';
  if (field === undefined) {
    if (op !== 'equals' && op !== 'contains' && op !== 'startswith' && op !== 'endswith' && op !== 're') {
      throw new CompileError(`modifier '${op}' needs a field name`);
    }
    const k: KeywordNode = { op: 'keyword', value: asString(value), match: p.op ? (op as KeywordNode['match']) : 'contains' };
    if (p.cased) k.cased = true;
    if (op === 're' && p.flags) k.flags = p.flags;
    return k;
  }
  const node: FieldNode = { field, op, value };
  if (p.cased) node.cased = true;
  if (op === 're' && p.flags) node.flags = p.flags;
  if (p.timepart) node.timepart = p.timepart;
  if (op === 'fieldref') node.match = (p.flags || 'equals') as FieldNode['match'];
  return node;
}

function checkValue(p: Plan, v: RawValue): RawValue {
  const op = p.op;
  if (op && COMPARE.has(op) || p.timepart) {
    const n = typeof v === 'number' ? v : Number(v);
    if (v === null || v === '' || Number.isNaN(n)) throw new CompileError(`'${op ?? p.timepart}' needs a number, got '${String(v)}'`);
    return n;
  }
  if (op === 'exists') {
    if (typeof v !== 'boolean') throw new CompileError(`'exists' needs true or false, got '${String(v)}'`);
    return v;
  }
  if (op === 'cidr') {
    if (typeof v !== 'string' || !/^[0-9a-fA-F:.]+\/\d{1,3}$/.test(v)) throw new CompileError(`'cidr' needs a network like 10.0.0.0/8, got '${String(v)}'`);
  }
  if (op === 're' && typeof v === 'string') validateRegex(v, p.flags);
  if (op === 'fieldref' && typeof v !== 'string') throw new CompileError(`'fieldref' needs a field name`);
  if (v === null && op && op !== 'equals') throw new CompileError(`null cannot be used with '${op}'`);
  return v;
}

/** JavaScript form of a Sigma (PCRE) regular expression: a leading inline `(?i)` etc. becomes flags. */
export function jsRegex(source: string, flags: string): RegExp {
  let src = source;
  let f = flags;
  const m = /^\(\?([ims]+)\)/.exec(src);
  if (m) { src = src.slice(m[0].length); f += m[1]; }
  return new RegExp(src, [...new Set(f)].join(''));
}

function validateRegex(source: string, flags: string): void {
  try { jsRegex(source, flags); } catch (e) {
    throw new CompileError(`invalid regular expression '${source}': ${(e as Error).message}`);
  }
}

/**
 * One detection item → condition node. `field` undefined means a keyword (full-text) item.
 * `mapField` maps a Sigma field name to the event path (also used for fieldref targets).
 */
export function compileItem(
  field: string | undefined,
  mods: string[],
  raw: RawValue | RawValue[],
  placeholders: Placeholders | undefined,
  mapField: (f: string) => string,
): ConditionNode {
  const p = plan(mods);
  const list = Array.isArray(raw) ? raw : [raw];
  if (list.length === 0) throw new CompileError('empty value list');
  if (p.all && list.length < 2 && p.transforms.length === 0) throw new CompileError(`'all' needs a list of at least two values`);
  const nodes: ConditionNode[] = [];
  for (const item of list) {
    if (item !== null && typeof item === 'object') throw new CompileError('nested structures are not allowed as values');
    nodes.push(item === null || p.transforms.length === 0
      ? valueNode(field, p, checkValue(p, item), mapField)
      : transformedNodes(field, p, String(item), placeholders, mapField));
  }
  const combined = p.all ? and(nodes) : or(nodes);
  return p.neq ? not(combined) : combined;
}

function transformedNodes(field: string | undefined, p: Plan, s: string, placeholders: Placeholders | undefined, mapField: (f: string) => string): ConditionNode {
  let work: Work[] = [{ kind: 'str', s }];
  for (const t of p.transforms) work = transform(work, t, placeholders);
  const values = work.map((w) => (w.kind === 'str' ? w.s : escapeSigma(w.b.toString('latin1'))));
  const plainOp = { ...p, op: p.op ?? (p.transforms.includes('base64offset') ? 'contains' : undefined) } as Plan;
  return or(values.map((v) => valueNode(field, plainOp, checkValue(plainOp, v), mapField)));
}

function valueNode(field: string | undefined, p: Plan, v: RawValue, mapField: (f: string) => string): ConditionNode {
  if (v === null && field !== undefined && (p.op === undefined || p.op === 'equals')) return { field, op: 'null', value: null };
  if (v === null) throw new CompileError('null is not a keyword');
  const value = p.op === 'fieldref' ? mapField(String(v)) : v;
  return leaf(field, p, value);
}
