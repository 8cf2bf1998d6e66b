// IR condition nodes → JavaScript predicates, compiled once per rule; plus the literal analysis the rule
// index uses (which lowercase substrings an event must contain for a rule to possibly match). Owns the
// matching semantics: case-insensitive by default, Sigma wildcards, lists match if any element matches,
// CIDR (IPv4/IPv6), numeric comparison, time parts, field references, keywords. Pure.

import type { ConditionNode, FieldNode, KeywordNode, TimePart } from './ir.ts';
import { jsRegex, QMARK, STAR, tokenize } from './values.ts';
import type { Token } from './values.ts';

export type Getter = (ev: Record<string, unknown>) => unknown;
type Str = string | string[] | undefined;

/** Field path → slot of its lowercased value in a MatchContext (assigned when predicates are compiled). */
const slots = new Map<string, number>();

export function fieldSlot(path: string): number {
  let slot = slots.get(path);
  if (slot === undefined) { slot = slots.size; slots.set(path, slot); }
  return slot;
}

const MAX_EPOCH = 0x7fffffff;

/** Per-event evaluation state, reused across events: the event and a cache of lowercased field values by slot. */
export class MatchContext {
  event: Record<string, unknown> = {};
  epoch = 0;
  stamps = new Int32Array(256); // slot → epoch its value was cached in
  readonly values: Str[] = [];
  reset(event: Record<string, unknown>): void {
    this.event = event;
    if (this.epoch === MAX_EPOCH) { this.epoch = 0; this.stamps.fill(0); }
    this.epoch++;
  }
}

export type Predicate = (ctx: MatchContext) => boolean;

const getters = new Map<string, Getter>();

/** Getter for a dotted path; a flat key containing dots (flattened records) wins over nesting. */
export function getterFor(path: string): Getter {
  let g = getters.get(path);
  if (g) return g;
  const parts = path.split('.');
  g = parts.length === 1
    ? (ev) => ev[path]
    : (ev) => {
      const flat = ev[path];
      if (flat !== undefined) return flat;
      let o: unknown = ev;
      for (const p of parts) {
        if (o === null || typeof o !== 'object') return undefined;
        o = (o as Record<string, unknown>)[p];
      }
      return o;
    };
  getters.set(path, g);
  return g;
}

/** The string form(s) of a value as Sigma compares it; objects never match a string. */
export function stringForm(v: unknown): Str {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) {
    const out: string[] = [];
    for (const x of v) if (x !== null && x !== undefined && typeof x !== 'object') out.push(String(x));
    return out;
  }
  return undefined;
}

/** The lowercased string form of the field in `slot` (see fieldSlot), cached per event. */
export function lowerField(ctx: MatchContext, slot: number, get: Getter): Str {
  if (slot < ctx.stamps.length && ctx.stamps[slot] === ctx.epoch) return ctx.values[slot];
  const s = stringForm(get(ctx.event));
  const l = s === undefined ? undefined : typeof s === 'string' ? s.toLowerCase() : s.map((x) => x.toLowerCase());
  if (slot >= ctx.stamps.length) {
    const grown = new Int32Array(Math.max(slot + 1, ctx.stamps.length * 2));
    grown.set(ctx.stamps);
    ctx.stamps = grown;
  }
  ctx.stamps[slot] = ctx.epoch;
  ctx.values[slot] = l;
  return l;
}

type StrTest = (s: string) => boolean;

function anyOf(v: Str, test: StrTest): boolean {
  if (v === undefined) return false;
  if (typeof v === 'string') return test(v);
  for (const x of v) if (test(x)) return true;
  return false;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** A matcher for Sigma wildcard tokens (already lowercased when case-insensitive). */
export function globMatcher(tokens: Token[]): StrTest {
  if (tokens.includes(QMARK)) {
    const src = tokens.map((t) => (t === STAR ? '.*' : t === QMARK ? '.' : escapeRe(t))).join('');
    const re = new RegExp(`^${src}$`, 's');
    return (s) => re.test(s);
  }
  const segs: string[] = [''];
  for (const t of tokens) {
    if (t === STAR) segs.push('');
    else segs[segs.length - 1] += t as string;
  }
  if (segs.length === 1) { const lit = segs[0]; return (s) => s === lit; }
  const first = segs[0];
  const last = segs[segs.length - 1];
  const middle = segs.slice(1, -1).filter((x) => x !== '');
  if (middle.length === 0) {
    if (first === '' && last === '') return () => true;
    if (first === '') return (s) => s.endsWith(last);
    if (last === '') return (s) => s.startsWith(first);
    return (s) => s.length >= first.length + last.length && s.startsWith(first) && s.endsWith(last);
  }
  if (first === '' && last === '' && middle.length === 1) { const lit = middle[0]; return (s) => s.includes(lit); }
  return (s) => {
    if (!s.startsWith(first)) return false;
    let pos = first.length;
    for (const m of middle) {
      const at = s.indexOf(m, pos);
      if (at < 0) return false;
      pos = at + m.length;
    }
    return s.length - pos >= last.length && s.endsWith(last);
  };
}

function patternTokens(op: string, value: string): Token[] {
  const t = tokenize(value);
  if (op === 'contains') return [STAR, ...t, STAR];
  if (op === 'startswith') return [...t, STAR];
  if (op === 'endswith') return [STAR, ...t];
  return t;
}

function lowerTokens(t: Token[]): Token[] {
  return t.map((x) => (typeof x === 'string' ? x.toLowerCase() : x));
}

// ---- IP / CIDR -------------------------------------------------------------------------------------

export function parseIp(s: string): Uint8Array | undefined {
  const ip = s.trim().replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) {
    const parts = ip.split('.').map(Number);
    return parts.every((n) => n <= 255) ? Uint8Array.from(parts) : undefined;
  }
  if (!ip.includes(':')) return undefined;
  let head = ip;
  let v4: Uint8Array | undefined;
  const lastColon = ip.lastIndexOf(':');
  if (ip.slice(lastColon + 1).includes('.')) {
    v4 = parseIp(ip.slice(lastColon + 1));
    if (!v4 || v4.length !== 4) return undefined;
    head = `${ip.slice(0, lastColon + 1)}0:0`;
  }
  const halves = head.split('::');
  if (halves.length > 2) return undefined;
  const groups = (x: string): string[] => (x === '' ? [] : x.split(':'));
  const left = groups(halves[0]);
  const right = halves.length === 2 ? groups(halves[1]) : [];
  const fill = 8 - left.length - right.length;
  if (halves.length === 1 ? fill !== 0 : fill < 1) return undefined;
  const all = [...left, ...Array<string>(halves.length === 2 ? fill : 0).fill('0'), ...right];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(all[i])) return undefined;
    const n = parseInt(all[i], 16);
    out[i * 2] = n >> 8;
    out[i * 2 + 1] = n & 0xff;
  }
  if (v4) out.set(v4, 12);
  return out;
}

export function cidrMatcher(cidr: string): StrTest {
  const [addr, bitsText] = cidr.split('/');
  const net = parseIp(addr);
  const bits = Number(bitsText);
  if (!net || bits > net.length * 8) throw new Error(`invalid CIDR '${cidr}'`);
  return (s) => {
    const ip = parseIp(s);
    if (!ip || ip.length !== net.length) return false;
    let b = bits;
    for (let i = 0; b > 0; i++, b -= 8) {
      const mask = b >= 8 ? 0xff : (0xff << (8 - b)) & 0xff;
      if ((ip[i] & mask) !== (net[i] & mask)) return false;
    }
    return true;
  };
}

// ---- time parts ------------------------------------------------------------------------------------

function parseTime(v: unknown): Date | undefined {
  if (typeof v === 'number') return new Date(v > 1e12 ? v : v * 1000);
  if (typeof v !== 'string') return undefined;
  let s = v.trim().replace(' ', 'T');
  if (/^\d{4}-\d{2}-\d{2}T[\d:.]+$/.test(s)) s += 'Z';
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

function isoWeek(d: Date): number {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const day = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - day);
  const yearStart = Date.UTC(t.getUTCFullYear(), 0, 1);
  return Math.ceil(((t.getTime() - yearStart) / 86400000 + 1) / 7);
}

export function timePart(d: Date, part: TimePart): number {
  switch (part) {
    case 'minute': return d.getUTCMinutes();
    case 'hour': return d.getUTCHours();
    case 'day': return d.getUTCDate();
    case 'week': return isoWeek(d);
    case 'month': return d.getUTCMonth() + 1;
    case 'year': return d.getUTCFullYear();
  }
}

// ---- compilation -----------------------------------------------------------------------------------

/** A leading single-character item (`\w`, `\d`, `\s`, their negations, `.`, a class) repeated with `+`. */
const LEADING_REPEAT = /^(\\[wdsWDS]|\.|\[(?:\\.|[^\]\\])*\])\+\??/;

/**
 * The regular expression predicates test with (RegExp.test: does a match exist?). A leading `X+` matches
 * wherever a single `X` does (`\w+x` and `\wx` find the same texts), so it is reduced to `X`, which does
 * not rescan the run at every start position.
 */
export function existenceRegex(source: string, flags: string): RegExp {
  const re = jsRegex(source, flags);
  const reduced = re.source.replace(LEADING_REPEAT, '$1');
  return reduced === re.source ? re : new RegExp(reduced, re.flags);
}

function numeric(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '') { const n = Number(v); return Number.isNaN(n) ? undefined : n; }
  return undefined;
}

const COMPARE: Record<string, (a: number, b: number) => boolean> = {
  equals: (a, b) => a === b, lt: (a, b) => a < b, lte: (a, b) => a <= b, gt: (a, b) => a > b, gte: (a, b) => a >= b,
};

function compileField(n: FieldNode): Predicate {
  const path = n.field;
  const get = getterFor(path);
  if (n.timepart) {
    const cmp = COMPARE[n.op] ?? COMPARE.equals;
    const want = Number(n.value);
    const part = n.timepart;
    return (ctx) => { const d = parseTime(get(ctx.event)); return d !== undefined && cmp(timePart(d, part), want); };
  }
  switch (n.op) {
    case 'exists': { const want = n.value === true; return (ctx) => (get(ctx.event) !== undefined) === want; }
    case 'null': return (ctx) => { const v = get(ctx.event); return v === undefined || v === null; };
    case 'lt': case 'lte': case 'gt': case 'gte': {
      const cmp = COMPARE[n.op];
      const want = Number(n.value);
      return (ctx) => { const v = get(ctx.event); const x = numeric(v); return x !== undefined && cmp(x, want); };
    }
    case 'cidr': {
      const test = cidrMatcher(String(n.value));
      return (ctx) => anyOf(stringForm(get(ctx.event)), test);
    }
    case 're': {
      const re = existenceRegex(String(n.value), n.flags ?? '');
      return (ctx) => anyOf(stringForm(get(ctx.event)), (s) => re.test(s));
    }
    case 'fieldref': return compileFieldref(n, get);
    default: {
      const tokens = patternTokens(n.op, String(n.value));
      if (n.cased) { const test = globMatcher(tokens); return (ctx) => anyOf(stringForm(get(ctx.event)), test); }
      const test = globMatcher(lowerTokens(tokens));
      const slot = fieldSlot(path);
      return (ctx) => anyOf(lowerField(ctx, slot, get), test);
    }
  }
}

function compileFieldref(n: FieldNode, get: Getter): Predicate {
  const other = getterFor(String(n.value));
  const cased = n.cased === true;
  const how = n.match ?? 'equals';
  const norm = (s: string): string => (cased ? s : s.toLowerCase());
  return (ctx) => {
    const a = stringForm(get(ctx.event));
    const b = stringForm(other(ctx.event));
    if (a === undefined || b === undefined) return false;
    const bs = typeof b === 'string' ? [b] : b;
    return anyOf(a, (x) => bs.some((y) => {
      const l = norm(x); const r = norm(y);
      return how === 'equals' ? l === r : how === 'contains' ? l.includes(r) : how === 'startswith' ? l.startsWith(r) : l.endsWith(r);
    }));
  };
}

function forEachValue(v: unknown, fn: (s: string) => boolean, depth = 0): boolean {
  if (v === null || v === undefined || depth > 8) return false;
  if (typeof v === 'object') {
    for (const x of Array.isArray(v) ? v : Object.values(v)) if (forEachValue(x, fn, depth + 1)) return true;
    return false;
  }
  return fn(String(v));
}

function compileKeyword(n: KeywordNode): Predicate {
  if (n.match === 're') {
    const re = existenceRegex(n.value, n.flags ?? '');
    return (ctx) => forEachValue(ctx.event, (s) => re.test(s));
  }
  const tokens = patternTokens(n.match === 'equals' ? 'equals' : n.match, n.value);
  if (n.cased) { const test = globMatcher(tokens); return (ctx) => forEachValue(ctx.event, test); }
  const test = globMatcher(lowerTokens(tokens));
  return (ctx) => forEachValue(ctx.event, (s) => test(s.toLowerCase()));
}

/** Compiles a condition tree to a predicate. Throws on an invalid regular expression or CIDR. */
export function compilePredicate(node: ConditionNode): Predicate {
  switch (node.op) {
    case 'and': {
      const ps = node.children.map(compilePredicate);
      if (ps.length === 2) { const [a, b] = ps; return (c) => a(c) && b(c); }
      return (c) => { for (const p of ps) if (!p(c)) return false; return true; };
    }
    case 'or': {
      const ps = node.children.map(compilePredicate);
      if (ps.length === 2) { const [a, b] = ps; return (c) => a(c) || b(c); }
      return (c) => { for (const p of ps) if (p(c)) return true; return false; };
    }
    case 'not': { const p = compilePredicate(node.child); return (c) => !p(c); }
    case 'true': return () => true;
    case 'false': return () => false;
    case 'keyword': return compileKeyword(node);
    default: return compileField(node);
  }
}

// ---- literal analysis for the rule index ------------------------------------------------------------

/** The pseudo-field of keyword searches: every value of the event. */
export const ALL_VALUES = '\u0000all-values';

/**
 * A rule can only match if the lowercased value of `field` contains `lit` (or, when `exact`, equals it).
 * `field` ALL_VALUES stands for any value of the event (keyword searches).
 */
export interface Literal { field: string; lit: string; exact: boolean }

function longestLiteral(tokens: Token[]): string {
  let best = '';
  let cur = '';
  for (const t of tokens) {
    if (typeof t === 'string') { cur += t; if (cur.length > best.length) best = cur; } else cur = '';
  }
  return best;
}

/** Expected candidate cost of a literal set: exact values are nearly free, short substrings are common. */
function cost(lits: Literal[]): number {
  let c = 0;
  for (const l of lits) c += l.exact ? 0.01 / l.lit.length : 1 / (l.lit.length * l.lit.length);
  return c;
}

function literalOf(field: string, op: string, value: string): Literal[] | null {
  const tokens = tokenize(value);
  const lit = longestLiteral(tokens).toLowerCase();
  if (lit === '') return null;
  const exact = op === 'equals' && field !== ALL_VALUES && tokens.every((t) => typeof t === 'string');
  return [{ field, lit, exact }];
}

/**
 * Literals of which at least one must occur for `node` to be true; null when no such set exists
 * (negations, regular expressions, numeric tests…). Sound: a null or too-large set only costs speed.
 */
export function requiredLiterals(node: ConditionNode): Literal[] | null {
  switch (node.op) {
    case 'and': {
      let best: Literal[] | null = null;
      for (const c of node.children) {
        const l = requiredLiterals(c);
        if (l !== null && (best === null || cost(l) < cost(best))) best = l;
      }
      return best;
    }
    case 'or': {
      const out: Literal[] = [];
      for (const c of node.children) {
        const l = requiredLiterals(c);
        if (l === null) return null;
        out.push(...l);
      }
      return out;
    }
    case 'false': return [];
    case 'keyword': return node.match === 're' ? regexLiteral(ALL_VALUES, node.value) : literalOf(ALL_VALUES, node.match, node.value);
    case 're': return (node as FieldNode).timepart ? null : regexLiteral((node as FieldNode).field, String((node as FieldNode).value));
    case 'equals': case 'contains': case 'startswith': case 'endswith': {
      const n = node as FieldNode;
      return n.timepart ? null : literalOf(n.field, n.op, String(n.value));
    }
    default: return null;
  }
}

/** At most this many literal groups per rule: the cheapest (most selective) ones. */
const MAX_LITERAL_GROUPS = 4;

/**
 * Groups of literals that must each be satisfied (at least one literal of every group occurs) for `node`
 * to be true: the most selective required literal set of the conjuncts of a top-level `and`, plus those of
 * the other conjuncts that are exact values only (a hash lookup each; more substrings would cost more
 * scanning than the predicates they save). Empty when no literal is required. Sound like requiredLiterals:
 * fewer groups only cost speed.
 */
export function requiredLiteralGroups(node: ConditionNode): Literal[][] {
  const conjuncts = node.op === 'and' ? node.children.flatMap((c) => requiredLiteralGroups(c)) : [requiredLiterals(node)];
  const groups = conjuncts.filter((g) => g !== null).sort((a, b) => cost(a) - cost(b));
  return groups.filter((g, i) => i === 0 || g.every((l) => l.exact)).slice(0, MAX_LITERAL_GROUPS);
}

const REGEX_CLASS_ESCAPES = new Set('dDwWsSbBnrtfv0123456789xucpPk');

/** Index just past the group or character class opening at `i` (escapes honoured). */
function skipGroup(src: string, i: number): number {
  let depth = 0;
  for (; i < src.length; i++) {
    const c = src[i];
    if (c === '\\') { i++; continue; }
    if (c === '[') { for (i++; i < src.length && src[i] !== ']'; i++) if (src[i] === '\\') i++; if (depth === 0) return i + 1; continue; }
    if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i + 1;
  }
  return i;
}

/**
 * The longest run of literal characters every match of a regular expression contains (top level only: a
 * top-level alternation, groups, classes, optional characters all end a run). Null when there is none.
 */
export function regexLiteral(field: string, source: string): Literal[] | null {
  const src = source.replace(/^\(\?[ims]+\)/, '');
  let best = '';
  let run = '';
  const end = (): void => { if (run.length > best.length) best = run; run = ''; };
  for (let i = 0; i < src.length;) {
    const c = src[i];
    if (c === '|') return null;
    if (c === '(' || c === '[') { end(); i = skipGroup(src, i); continue; }
    const quantifier = c === '{' ? /^\{\d*(,\d*)?\}/.exec(src.slice(i)) : null;
    if (quantifier) { end(); i += quantifier[0].length; continue; }
    let ch: string | undefined;
    if (c === '\\') { const n = src[i + 1] ?? ''; ch = REGEX_CLASS_ESCAPES.has(n) ? undefined : n; i += 2; } else {
      ch = c === '.' || c === '^' || c === '$' ? undefined : c;
      i++;
    }
    const q = src[i];
    if (q === '*' || q === '?' || (q === '{' && /^\{0*[,}]/.test(src.slice(i)))) { end(); continue; }
    if (ch === undefined || ch === '+' || ch === '*' || ch === '?' || ch === '{' || ch === '}' || ch === ')') { end(); continue; }
    run += ch;
    if (q === '+' || q === '{') end();
  }
  end();
  const lit = best.toLowerCase();
  return lit.length >= 1 ? [{ field, lit, exact: false }] : null;
}

/** Every scalar value of the event joined by NUL (what keyword searches look through). */
export function allValues(ev: unknown): string {
  const parts: string[] = [];
  const walk = (v: unknown, depth: number): void => {
    if (v === null || v === undefined || depth > 8) return;
    if (typeof v === 'object') { for (const x of Array.isArray(v) ? v : Object.values(v)) walk(x, depth + 1); return; }
    parts.push(String(v));
  };
  walk(ev, 0);
  return parts.join('\u0000');
}
