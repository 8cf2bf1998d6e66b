// Indicator feeds → indicators in normal form: CSV (a header naming `value`/`indicator`, `type`, `confidence`,
// `expires`; or headerless rows value[,type[,confidence[,expires]]]; `#` comments), STIX 2.1 bundles (indicator
// objects with STIX patterns: file hashes, ipv4-addr/ipv6-addr values and networks, domain-name values, url values by
// their host; each comparison of a pattern is one indicator, so AND-ed comparisons are matched each on its own;
// revoked indicators skipped, `valid_until` is the expiry, `confidence` kept) and MISP feed events (`{"Event": …}`,
// a list of them or `{"response": […]}`: attributes and object attributes meant for detection (`to_ids`) of the
// hash, address, domain, hostname and url types, composite `a|b` types by their indicator part; confidence from the
// event's threat level). Values that are no indicator are counted as rejected, never fatal; content that is not the
// format at all is an IntelParseError. Pure.

import { parse as parseCsvRows } from 'csv-parse/sync';
import { classify, normalType, type Indicator } from './indicators.ts';

export const INTEL_FORMATS = ['csv', 'stix', 'misp'] as const;
export type IntelFormat = (typeof INTEL_FORMATS)[number];

export interface ParsedFeed {
  indicators: Indicator[];
  /** Entries that named no indicator Vigil matches (other observable types, malformed values). */
  rejected: number;
}

export class IntelParseError extends Error {
  override name = 'IntelParseError';
}

function parseTime(v: unknown): number | undefined {
  if (typeof v !== 'string' && typeof v !== 'number') return undefined;
  if (typeof v === 'number' || /^\d+$/.test(v)) return Number(v) * 1000; // epoch seconds
  const t = Date.parse(v);
  return Number.isFinite(t) ? t : undefined;
}

function confidenceOf(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : Number.NaN;
  return Number.isFinite(n) && n >= 0 && n <= 100 ? n : undefined;
}

class Collector {
  readonly out: ParsedFeed = { indicators: [], rejected: 0 };

  add(raw: string, hint?: string, extra: { confidence?: number; expiresAt?: number } = {}): void {
    const ind = classify(raw, hint);
    if (!ind) { this.out.rejected++; return; }
    if (extra.confidence !== undefined) ind.confidence = extra.confidence;
    if (extra.expiresAt !== undefined) ind.expiresAt = extra.expiresAt;
    this.out.indicators.push(ind);
  }
}

// ---- CSV ----

const VALUE_COLUMNS = ['value', 'indicator', 'ioc', 'observable'];
const EXPIRY_COLUMNS = ['expires', 'expires_at', 'valid_until', 'expiry'];

interface CsvColumns { value: number; type: number; confidence: number; expires: number }

/** The columns a header names, or the headerless order value,type,confidence,expires. */
function csvColumns(first: string[]): { columns: CsvColumns; header: boolean } {
  const header = first.map((h) => h.toLowerCase());
  if (!header.some((h) => VALUE_COLUMNS.includes(h))) return { columns: { value: 0, type: 1, confidence: 2, expires: 3 }, header: false };
  const col = (names: string[]) => header.findIndex((h) => names.includes(h));
  return { columns: { value: col(VALUE_COLUMNS), type: col(['type', 'indicator_type']), confidence: col(['confidence', 'score']), expires: col(EXPIRY_COLUMNS) }, header: true };
}

function addCsvRow(c: Collector, row: string[], k: CsvColumns): void {
  const at = (i: number) => (i >= 0 ? row[i] : undefined);
  c.add(at(k.value) ?? '', at(k.type) || undefined, { confidence: confidenceOf(at(k.confidence)), expiresAt: parseTime(at(k.expires) || undefined) });
}

/** Rows of CSV without quotes (the usual feed), one line at a time: no full parse of a million rows held at once. */
function* plainRows(content: string): Generator<string[]> {
  for (let start = 0; start < content.length;) {
    let end = content.indexOf('\n', start);
    if (end < 0) end = content.length;
    const line = content.slice(start, end).trim();
    start = end + 1;
    if (line === '' || line.startsWith('#')) continue;
    yield line.includes(',') ? line.split(',').map((v) => v.trim()) : [line];
  }
}

function quotedRows(content: string): string[][] {
  try {
    return parseCsvRows(content, { comment: '#', skip_empty_lines: true, relax_column_count: true, trim: true }) as string[][];
  } catch (err) {
    throw new IntelParseError(`not CSV: ${(err as Error).message}`);
  }
}

export function parseCsv(content: string): ParsedFeed {
  const c = new Collector();
  let columns: CsvColumns | undefined;
  for (const row of content.includes('"') ? quotedRows(content) : plainRows(content)) {
    if (!columns) {
      const first = csvColumns(row);
      columns = first.columns;
      if (first.header) continue;
    }
    addCsvRow(c, row, columns);
  }
  return c.out;
}

// ---- STIX 2.1 ----

/** One comparison of a STIX pattern: `object:path = 'v'` or `object:path IN ('a', 'b')`. */
const COMPARISON = /([a-z0-9-]+):([A-Za-z0-9_.'-]+)\s*(=|IN)\s*('(?:[^'\\]|\\.)*'|\((?:[^()'\\]|'(?:[^'\\]|\\.)*')*\))/g;
const QUOTED = /'((?:[^'\\]|\\.)*)'/g;

const unescape = (s: string): string => s.replace(/\\(.)/g, '$1');

/** The indicator type of a STIX object path, and how its value becomes an indicator value. */
function stixTarget(object: string, path: string): { hint: string; value: (v: string) => string } | undefined {
  const same = (v: string) => v;
  if (object === 'file' && path.startsWith('hashes.')) {
    const alg = normalType(path.slice('hashes.'.length).replace(/'/g, ''));
    return alg === 'sha256' || alg === 'sha1' || alg === 'md5' ? { hint: alg, value: same } : undefined;
  }
  if (path !== 'value') return undefined;
  if (object === 'ipv4-addr' || object === 'ipv6-addr') return { hint: object, value: same };
  if (object === 'domain-name') return { hint: 'domain', value: same };
  if (object === 'url') return { hint: '', value: (v) => { try { return new URL(v).hostname.replace(/^\[(.*)\]$/, '$1'); } catch { return ''; } } };
  return undefined;
}

export function parseStixPattern(pattern: string): { hint: string; value: string }[] {
  const out: { hint: string; value: string }[] = [];
  for (const m of pattern.matchAll(COMPARISON)) {
    const target = stixTarget(m[1], m[2]);
    if (!target) continue;
    const values = m[3] === '=' ? [m[4].slice(1, -1)] : [...m[4].matchAll(QUOTED)].map((q) => q[1]);
    for (const v of values) out.push({ hint: target.hint, value: target.value(unescape(v)) });
  }
  return out;
}

function parseJson(content: string, format: string): unknown {
  try {
    return JSON.parse(content);
  } catch (err) {
    throw new IntelParseError(`not a ${format} document: ${(err as Error).message}`);
  }
}

export function parseStix(content: string): ParsedFeed {
  const doc = parseJson(content, 'STIX 2.1 bundle') as { type?: unknown; objects?: unknown };
  if (doc?.type !== 'bundle' || !Array.isArray(doc.objects)) throw new IntelParseError('not a STIX 2.1 bundle: expected {"type": "bundle", "objects": [...]}');
  const c = new Collector();
  for (const o of doc.objects as Record<string, unknown>[]) {
    if (o?.type !== 'indicator') continue;
    if (o.revoked === true || (o.pattern_type !== undefined && o.pattern_type !== 'stix') || typeof o.pattern !== 'string') { c.out.rejected++; continue; }
    const found = parseStixPattern(o.pattern);
    if (found.length === 0) { c.out.rejected++; continue; }
    const extra = { confidence: confidenceOf(o.confidence), expiresAt: parseTime(o.valid_until) };
    for (const f of found) c.add(f.value, f.hint || undefined, extra);
  }
  return c.out;
}

// ---- MISP ----

/** MISP attribute types Vigil matches, with the indicator type hint. */
const MISP_TYPES: Record<string, string> = {
  md5: 'md5', sha1: 'sha1', sha256: 'sha256', 'ip-src': 'ip', 'ip-dst': 'ip', domain: 'domain', hostname: 'domain', url: '',
};
/** Event threat level (1 high … 4 undefined) → confidence. */
const MISP_THREAT_CONFIDENCE: Record<string, number> = { 1: 90, 2: 70, 3: 40 };

function mispValue(type: string, value: string): { hint: string; value: string } | undefined {
  const parts = type.split('|');
  const values = value.split('|');
  for (const [i, t] of parts.entries()) {
    if (!(t in MISP_TYPES) || values[i] === undefined) continue;
    if (t === 'url') {
      try { return { hint: '', value: new URL(values[i]).hostname.replace(/^\[(.*)\]$/, '$1') }; } catch { return undefined; }
    }
    return { hint: MISP_TYPES[t], value: values[i] };
  }
  return undefined;
}

function mispEvents(doc: unknown): Record<string, unknown>[] {
  const list = Array.isArray(doc) ? doc : (doc as { response?: unknown })?.response !== undefined ? (doc as { response: unknown }).response : [doc];
  if (!Array.isArray(list)) return [];
  return list.map((e) => (e as { Event?: unknown })?.Event).filter((e): e is Record<string, unknown> => typeof e === 'object' && e !== null);
}

export function parseMisp(content: string): ParsedFeed {
  const events = mispEvents(parseJson(content, 'MISP feed event'));
  if (events.length === 0) throw new IntelParseError('not a MISP feed event: expected {"Event": {...}}, a list of them or {"response": [...]}');
  const c = new Collector();
  for (const ev of events) {
    const confidence = MISP_THREAT_CONFIDENCE[String(ev.threat_level_id ?? '')];
    const objects = Array.isArray(ev.Object) ? (ev.Object as { Attribute?: unknown }[]) : [];
    const attributes = [ev.Attribute, ...objects.map((o) => o?.Attribute)].flatMap((a) => (Array.isArray(a) ? a as Record<string, unknown>[] : []));
    for (const a of attributes) {
      if (a?.to_ids === false || a?.to_ids === '0' || a?.deleted === true) continue;
      const v = typeof a.type === 'string' && typeof a.value === 'string' ? mispValue(a.type, a.value) : undefined;
      if (!v) { c.out.rejected++; continue; }
      c.add(v.value, v.hint || undefined, { confidence });
    }
  }
  return c.out;
}

export function parseFeed(format: IntelFormat, content: string): ParsedFeed {
  switch (format) {
    case 'csv': return parseCsv(content);
    case 'stix': return parseStix(content);
    case 'misp': return parseMisp(content);
  }
}
