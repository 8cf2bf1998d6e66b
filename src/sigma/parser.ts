// Sigma YAML (multi-document) and JSON-form rules → IR. Owns document classification (rule, correlation,
// filter), metadata validation, detection sections, filters (sigma-filters-specification) and correlation
// documents (sigma-correlation-rules-specification), with a precise rejection reason (rule id, file, line)
// for anything obsolete or unsupported: a rule is either loaded whole or rejected. Pure: sources are text.

import { LineCounter, parseAllDocuments, isMap } from 'yaml';
import type { Document, Node as YamlNode } from 'yaml';
import { createHash } from 'node:crypto';
import type {
  ConditionNode, CorrelationCondition, CorrelationIR, CorrelationType, Level, Logsource, RejectedRule, RuleIR,
} from './ir.ts';
import { and, LEVELS, not, or, RULE_RESPONSE_ACTIONS, techniquesFromTags } from './ir.ts';
import type { RuleResponse } from './ir.ts';
import { parseCondition } from './condition.ts';
import { CompileError, compileItem, jsRegex } from './values.ts';
import type { Placeholders, RawValue } from './values.ts';
import type { FieldSchema } from './fieldschema.ts';

export interface RuleSource { path: string; text: string }

/** Maps a Sigma field name to an event path for the rule's logsource (a processing pipeline's field step). */
export type FieldMapper = (logsource: Logsource) => (field: string) => string;

export interface CompileOptions {
  placeholders?: Placeholders;
  fieldMapper?: FieldMapper;
  fieldSchema?: FieldSchema; // reject rules naming fields their logsource never carries
}

export interface CompileResult {
  rules: RuleIR[];
  correlations: CorrelationIR[];
  rejected: RejectedRule[];
  warnings: string[];
}

const identity: FieldMapper = () => (f) => f;

class DocError extends Error {
  line: number | undefined;
  constructor(message: string, line?: number) { super(message); this.line = line; }
}

interface Ctx { file: string; lines: LineCounter; doc: Document; opts: CompileOptions }

function lineOf(ctx: Ctx, path: (string | number)[]): number | undefined {
  const node = (path.length ? ctx.doc.getIn(path, true) : ctx.doc.contents) as YamlNode | undefined;
  const start = node?.range?.[0];
  if (start === undefined) {
    // fall back to the key's position when the value is a scalar that lost its node
    return ctx.doc.contents?.range ? ctx.lines.linePos(ctx.doc.contents.range[0]).line : undefined;
  }
  return ctx.lines.linePos(start).line;
}

function fail(ctx: Ctx, path: (string | number)[], message: string): never {
  throw new DocError(message, lineOf(ctx, path));
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
}

function strList(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) return v.filter((x) => x !== null && x !== undefined).map(String);
  return [String(v)];
}

function levelOf(ctx: Ctx, v: unknown, fallback: Level): Level {
  if (v === undefined || v === null) return fallback;
  const l = String(v).toLowerCase();
  if (!(LEVELS as readonly string[]).includes(l)) fail(ctx, ['level'], `unknown level '${String(v)}'`);
  return l as Level;
}

function fallbackId(file: string, title: string, index: number): string {
  return createHash('sha256').update(`${file}\u0000${index}\u0000${title}`).digest('hex').slice(0, 32);
}

interface Meta {
  id: string; name: string; status?: string; author?: string; description?: string; tags: string[];
  references: string[]; falsepositives: string[]; sigma_name?: string;
}

function meta(ctx: Ctx, d: Record<string, unknown>, index: number): Meta {
  const title = str(d.title);
  if (!title) fail(ctx, [], 'missing title');
  const id = str(d.id) ?? fallbackId(ctx.file, title, index);
  const status = str(d.status);
  for (const k of ['date', 'modified']) {
    const v = d[k];
    if (v !== undefined && !(v instanceof Date) && typeof v !== 'string') fail(ctx, [k], `'${k}' must be a date`);
  }
  return {
    id, name: title, status, author: str(d.author), description: str(d.description),
    tags: strList(d.tags), references: strList(d.references), falsepositives: strList(d.falsepositives),
    sigma_name: str(d.name),
  };
}

function logsourceOf(ctx: Ctx, v: unknown): Logsource {
  if (!v || typeof v !== 'object' || Array.isArray(v)) fail(ctx, ['logsource'], 'missing or malformed logsource');
  const o = v as Record<string, unknown>;
  const ls: Logsource = {};
  for (const k of ['product', 'category', 'service'] as const) {
    const s = str(o[k]);
    if (s) ls[k] = s.toLowerCase();
  }
  if (!ls.product && !ls.category && !ls.service) fail(ctx, ['logsource'], 'logsource needs a product, category or service');
  return ls;
}

type Raw = RawValue | RawValue[] | Record<string, unknown> | Record<string, unknown>[];

function isPlain(v: unknown): v is RawValue {
  return v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

function compileMap(ctx: Ctx, path: (string | number)[], m: Record<string, unknown>, mapField: (f: string) => string): ConditionNode {
  const keys = Object.keys(m);
  if (keys.length === 0) fail(ctx, path, 'empty detection map');
  return and(keys.map((key) => {
    const [fieldName, ...mods] = key.split('|');
    const raw = m[key] instanceof Date ? (m[key] as Date).toISOString().slice(0, 10) : m[key];
    if (!isPlain(raw) && !(Array.isArray(raw) && raw.every((x) => isPlain(x)))) {
      fail(ctx, [...path, key], `value of '${key}' must be a scalar or a list of scalars`);
    }
    try {
      const field = fieldName === '' ? undefined : mapField(fieldName);
      return compileItem(field, mods.map((x) => x.toLowerCase()), raw as RawValue | RawValue[], ctx.opts.placeholders, mapField);
    } catch (e) {
      if (e instanceof CompileError) fail(ctx, [...path, key], `${key}: ${e.message}`);
      throw e;
    }
  }));
}

function compileSearch(ctx: Ctx, name: string, v: Raw, mapField: (f: string) => string): ConditionNode {
  const path = ['detection', name];
  if (isPlain(v)) return compileKeyword(ctx, path, [v]);
  if (Array.isArray(v)) {
    if (v.length === 0) fail(ctx, path, `detection '${name}' is an empty list`);
    if (v.every((x) => isPlain(x))) return compileKeyword(ctx, path, v as RawValue[]);
    if (v.every((x) => x && typeof x === 'object' && !Array.isArray(x))) {
      return or((v as Record<string, unknown>[]).map((m, i) => compileMap(ctx, [...path, i], m, mapField)));
    }
    fail(ctx, path, `detection '${name}' mixes keywords and field maps`);
  }
  return compileMap(ctx, path, v as Record<string, unknown>, mapField);
}

function compileKeyword(ctx: Ctx, path: (string | number)[], values: RawValue[]): ConditionNode {
  try {
    return compileItem(undefined, [], values, ctx.opts.placeholders, (f) => f);
  } catch (e) {
    if (e instanceof CompileError) fail(ctx, path, e.message);
    throw e;
  }
}

function logsourceText(ls: Logsource): string {
  return [ls.product, ls.category, ls.service].filter(Boolean).join('/');
}

/** The rule's field mapper, refusing field names the configured field schema does not know. */
function checkedMapper(ctx: Ctx, ls: Logsource): (f: string) => string {
  const map = (ctx.opts.fieldMapper ?? identity)(ls);
  const known = ctx.opts.fieldSchema?.(ls);
  if (!known) return map;
  return (f) => {
    if (!known.has(f)) throw new CompileError(`field '${f}' does not exist in logsource ${logsourceText(ls)}`);
    return map(f);
  };
}

function compileDetection(ctx: Ctx, det: unknown, ls: Logsource, key = 'detection'): ConditionNode {
  if (!det || typeof det !== 'object' || Array.isArray(det)) fail(ctx, [key], `missing or malformed '${key}' section`);
  const d = det as Record<string, unknown>;
  if ('timeframe' in d) fail(ctx, [key, 'timeframe'], "obsolete 'timeframe' in detection (Sigma 1.x aggregation); use a correlation rule's timespan");
  const cond = d.condition;
  if (cond === undefined) fail(ctx, [key], 'detection has no condition');
  const mapField = checkedMapper(ctx, ls);
  const names = Object.keys(d).filter((k) => k !== 'condition');
  const cache = new Map<string, ConditionNode>();
  const scope = {
    names,
    resolve: (n: string): ConditionNode => {
      let node = cache.get(n);
      if (!node) { node = compileSearch(ctx, n, d[n] as Raw, mapField); cache.set(n, node); }
      return node;
    },
  };
  const conds = Array.isArray(cond) ? cond.map(String) : [String(cond)];
  try {
    return or(conds.map((c) => parseCondition(c, scope)));
  } catch (e) {
    if (e instanceof CompileError) fail(ctx, [key, 'condition'], e.message);
    throw e;
  }
}

/** The optional `response` attribute (a Vigil extension): an allowed action and its parameters. */
function responseOf(ctx: Ctx, v: unknown): RuleResponse | undefined {
  if (v === undefined) return undefined;
  const o = v as Record<string, unknown> | null;
  if (!o || typeof o !== 'object' || Array.isArray(o)) fail(ctx, ['response'], "'response' must be a map with an 'action'");
  if (!(RULE_RESPONSE_ACTIONS as readonly unknown[]).includes(o.action)) {
    fail(ctx, ['response', 'action'], `'response.action' must be one of ${RULE_RESPONSE_ACTIONS.join(', ')}`);
  }
  const params = o.params;
  if (params !== undefined && (!params || typeof params !== 'object' || Array.isArray(params))) fail(ctx, ['response', 'params'], "'response.params' must be a map");
  return { action: o.action as RuleResponse['action'], ...(params ? { params: params as Record<string, unknown> } : {}) };
}

function compileRuleDoc(ctx: Ctx, d: Record<string, unknown>, index: number): RuleIR {
  const m = meta(ctx, d, index);
  const logsource = logsourceOf(ctx, d.logsource);
  const conditions = compileDetection(ctx, d.detection, logsource);
  if (m.status === 'unsupported') fail(ctx, ['status'], "status 'unsupported': the rule declares it cannot be used as written");
  return {
    id: m.id, name: m.name, severity: levelOf(ctx, d.level, 'medium'), enabled: true, status: m.status,
    author: m.author, description: m.description, sigma_source: ctx.file, logsource, conditions,
    mitre: techniquesFromTags(m.tags), tags: m.tags, references: m.references, falsepositives: m.falsepositives,
    sigma_name: m.sigma_name, response: responseOf(ctx, d.response),
  };
}

const TIMESPAN_UNITS: Record<string, number> = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3 };

export function parseTimespan(v: string): number | undefined {
  const m = /^(\d+)([smhdw])$/.exec(v.trim());
  return m ? Number(m[1]) * TIMESPAN_UNITS[m[2]] : undefined;
}

const CORRELATION_TYPES = new Set<string>(['event_count', 'value_count', 'temporal', 'temporal_ordered', 'value_sum', 'value_avg', 'value_percentile']);
const COND_KEYS = new Set(['gt', 'gte', 'lt', 'lte', 'eq', 'neq', 'field', 'percentile']);

export interface PendingCorrelation { ir: CorrelationIR; ctx: Ctx; refs: string[]; aliases: Record<string, Record<string, string>> }

function compileCorrelationDoc(ctx: Ctx, d: Record<string, unknown>, index: number): PendingCorrelation {
  const m = meta(ctx, d, index);
  const c = d.correlation as Record<string, unknown>;
  if (!c || typeof c !== 'object' || Array.isArray(c)) fail(ctx, ['correlation'], 'malformed correlation section');
  const type = str(c.type);
  if (!type || !CORRELATION_TYPES.has(type)) fail(ctx, ['correlation', 'type'], `unknown correlation type '${String(c.type)}'`);
  const refs = strList(c.rules);
  if (refs.length === 0) fail(ctx, ['correlation', 'rules'], 'correlation references no rules');
  const span = str(c.timespan) ?? str(c.timeframe);
  const timespan = span ? parseTimespan(span) : undefined;
  if (timespan === undefined) fail(ctx, ['correlation', 'timespan'], `missing or malformed timespan '${String(span)}' (use e.g. 30s, 5m, 1h, 1d)`);
  const condition: CorrelationCondition = {};
  const isTemporal = type === 'temporal' || type === 'temporal_ordered';
  if (c.condition !== undefined) {
    if (!c.condition || typeof c.condition !== 'object' || Array.isArray(c.condition)) fail(ctx, ['correlation', 'condition'], 'correlation condition must be a map');
    for (const [k, v] of Object.entries(c.condition as Record<string, unknown>)) {
      if (!COND_KEYS.has(k)) fail(ctx, ['correlation', 'condition', k], `unknown correlation condition '${k}'`);
      if (k === 'field') condition.field = String(v);
      else if (typeof v !== 'number') fail(ctx, ['correlation', 'condition', k], `'${k}' needs a number`);
      else (condition as Record<string, number>)[k] = v;
    }
  } else if (!isTemporal) fail(ctx, ['correlation'], `${type} correlation needs a condition`);
  const needsField = type !== 'event_count' && !isTemporal;
  if (needsField && !condition.field) fail(ctx, ['correlation', 'condition'], `${type} correlation needs condition.field`);
  if (type === 'value_percentile' && (condition.percentile === undefined || condition.percentile < 0 || condition.percentile > 100)) {
    fail(ctx, ['correlation', 'condition'], 'value_percentile needs condition.percentile between 0 and 100');
  }
  const thresholds = ['gt', 'gte', 'lt', 'lte', 'eq', 'neq'].filter((k) => k in condition);
  if (!isTemporal && thresholds.length === 0) fail(ctx, ['correlation', 'condition'], 'correlation condition needs gt, gte, lt, lte, eq or neq');
  const aliases: Record<string, Record<string, string>> = {};
  if (c.aliases !== undefined) {
    if (!c.aliases || typeof c.aliases !== 'object') fail(ctx, ['correlation', 'aliases'], 'aliases must be a map');
    for (const [alias, perRule] of Object.entries(c.aliases as Record<string, unknown>)) {
      if (!perRule || typeof perRule !== 'object') fail(ctx, ['correlation', 'aliases', alias], `alias '${alias}' must map rule names to fields`);
      aliases[alias] = Object.fromEntries(Object.entries(perRule as Record<string, unknown>).map(([r, f]) => [r, String(f)]));
    }
  }
  const ir: CorrelationIR = {
    id: m.id, name: m.name, severity: levelOf(ctx, d.level, 'medium'), enabled: true, status: m.status,
    author: m.author, description: m.description, sigma_source: ctx.file, sigma_name: m.sigma_name,
    type: type as CorrelationType, rules: [], group_by: strList(c['group-by']), timespan_ms: timespan,
    condition, aliases: {}, generate: c.generate === true, mitre: techniquesFromTags(m.tags), tags: m.tags,
  };
  return { ir, ctx, refs, aliases };
}

export interface PendingFilter { ctx: Ctx; id: string; title: string; targets: string[]; logsource: Logsource; condition: ConditionNode }

function compileFilterDoc(ctx: Ctx, d: Record<string, unknown>, index: number): PendingFilter {
  const title = str(d.title);
  if (!title) fail(ctx, [], 'missing title');
  const f = d.filter as Record<string, unknown>;
  if (!f || typeof f !== 'object' || Array.isArray(f)) fail(ctx, ['filter'], 'malformed filter section');
  const targets = strList(f.rules);
  if (targets.length === 0) fail(ctx, ['filter', 'rules'], 'filter names no rules');
  const logsource = logsourceOf(ctx, d.logsource);
  const { rules: _r, ...detection } = f;
  const condition = compileDetection(ctx, detection, logsource, 'filter');
  return { ctx, id: str(d.id) ?? fallbackId(ctx.file, title, index), title, targets, logsource, condition };
}

function reject(rejected: RejectedRule[], file: string, d: Record<string, unknown> | undefined, e: unknown): void {
  if (!(e instanceof DocError)) throw e;
  rejected.push({ id: str(d?.id), title: str(d?.title), file, line: e.line, reason: e.message });
}

/** One source parsed on its own, before correlations and filters are linked across sources. */
export interface ParsedSource {
  rules: RuleIR[];
  correlations: PendingCorrelation[];
  filters: PendingFilter[];
  rejected: RejectedRule[];
}

function parseYamlSource(src: RuleSource, opts: CompileOptions, out: ParsedSource): void {
  const lines = new LineCounter();
  const docs = parseAllDocuments(src.text, { lineCounter: lines, uniqueKeys: false });
  const list = Array.isArray(docs) ? docs : [docs];
  const collection = list.some((doc) => isMap(doc.contents) && doc.contents.has('action'));
  list.forEach((doc, index) => {
    const ctx: Ctx = { file: src.path, lines, doc, opts };
    if (doc.errors.length > 0) {
      const e = doc.errors[0];
      out.rejected.push({ file: src.path, line: e.linePos?.[0]?.line, reason: `YAML error: ${e.message.split('\n')[0]}` });
      return;
    }
    const js = doc.toJS() as unknown;
    if (js === null || js === undefined) return; // empty document (e.g. a trailing ---)
    if (typeof js !== 'object' || Array.isArray(js)) {
      out.rejected.push({ file: src.path, line: lineOf(ctx, []), reason: 'a Sigma document must be a map' });
      return;
    }
    const d = js as Record<string, unknown>;
    try {
      if (collection) fail(ctx, ['action'], "obsolete rule collection ('action: global/reset/repeat', Sigma 1.x); write one complete rule per document");
      if ('correlation' in d) out.correlations.push(compileCorrelationDoc(ctx, d, index));
      else if ('filter' in d) out.filters.push(compileFilterDoc(ctx, d, index));
      else if ('detection' in d) out.rules.push(compileRuleDoc(ctx, d, index));
      else fail(ctx, [], 'document has no detection, correlation or filter section');
    } catch (e) {
      reject(out.rejected, src.path, d, e);
    }
  });
}

const NODE_OPS = new Set(['equals', 'contains', 'startswith', 'endswith', 're', 'cidr', 'exists', 'null', 'lt', 'lte', 'gt', 'gte', 'fieldref']);

/** Validates a condition tree written by hand in the JSON form. Returns a reason, or undefined when valid. */
export function validateConditions(n: unknown, path = 'conditions'): string | undefined {
  if (!n || typeof n !== 'object') return `${path} must be an object`;
  const o = n as Record<string, unknown>;
  if (o.op === 'and' || o.op === 'or') {
    if (!Array.isArray(o.children) || o.children.length === 0) return `${path}.children must be a non-empty list`;
    for (let i = 0; i < o.children.length; i++) {
      const r = validateConditions(o.children[i], `${path}.children[${i}]`);
      if (r) return r;
    }
    return undefined;
  }
  if (o.op === 'not') return validateConditions(o.child, `${path}.child`);
  if (o.op === 'true' || o.op === 'false') return undefined;
  if (o.op === 'keyword') return typeof o.value === 'string' ? undefined : `${path}.value must be a string`;
  if (typeof o.field !== 'string' || o.field === '') return `${path}.field must be a field path`;
  if (typeof o.op !== 'string' || !NODE_OPS.has(o.op)) return `${path}.op '${String(o.op)}' is not a known operator`;
  if (o.op === 're') {
    try { jsRegex(String(o.value), typeof o.flags === 'string' ? o.flags : ''); } catch (e) { return `${path}: invalid regular expression: ${(e as Error).message}`; }
  }
  if (['lt', 'lte', 'gt', 'gte'].includes(o.op) && typeof o.value !== 'number') return `${path}.value must be a number`;
  return undefined;
}

function parseJsonSource(src: RuleSource, out: ParsedSource): void {
  let data: unknown;
  try { data = JSON.parse(src.text); } catch (e) {
    out.rejected.push({ file: src.path, reason: `JSON error: ${(e as Error).message}` });
    return;
  }
  const list = Array.isArray(data) ? data : [data];
  for (const r of list) {
    const o = (r ?? {}) as Record<string, unknown>;
    const reason = typeof o.id !== 'string' ? 'JSON rule needs a string id'
      : typeof o.name !== 'string' ? 'JSON rule needs a name'
      : o.severity !== undefined && !(LEVELS as readonly string[]).includes(String(o.severity)) ? `unknown severity '${String(o.severity)}'`
      : validateConditions(o.conditions);
    if (reason) { out.rejected.push({ id: str(o.id), title: str(o.name), file: src.path, reason }); continue; }
    const tags = strList(o.tags);
    out.rules.push({
      id: o.id as string, name: o.name as string, severity: (o.severity as Level) ?? 'medium', enabled: o.enabled !== false,
      status: str(o.status), author: str(o.author), description: str(o.description), sigma_source: str(o.sigma_source) ?? src.path,
      logsource: (o.logsource as Logsource) ?? {}, conditions: o.conditions as ConditionNode,
      mitre: o.mitre ? strList(o.mitre) : techniquesFromTags(tags), tags,
      references: strList(o.references), falsepositives: strList(o.falsepositives), sigma_name: str(o.sigma_name),
    });
  }
}

/**
 * Per referenced rule, the event path of every field the correlation reads (group-by names and the
 * condition field, through `aliases`), mapped with that rule's logsource field mapping. Chained
 * references keep the names (a correlation result carries its group-by values by name).
 */
function correlationFields(p: PendingCorrelation, ids: string[], byKey: Map<string, string>, ruleById: Map<string, RuleIR>): Record<string, Record<string, string>> {
  const aliases: Record<string, Record<string, string>> = {};
  for (const [alias, perRule] of Object.entries(p.aliases)) {
    aliases[alias] = Object.fromEntries(Object.entries(perRule).map(([r, f]) => [byKey.get(r) ?? r, f]));
  }
  const names = [...p.ir.group_by, ...(p.ir.condition.field ? [p.ir.condition.field] : [])];
  for (const id of ids) {
    const rule = ruleById.get(id);
    if (!rule) continue;
    const map = (p.ctx.opts.fieldMapper ?? identity)(rule.logsource);
    for (const name of names) (aliases[name] ??= {})[id] = map(aliases[name]?.[id] ?? name);
  }
  return aliases;
}

function resolveCorrelations(out: CompileResult, pending: PendingCorrelation[]): void {
  const ruleById = new Map(out.rules.map((r) => [r.id, r]));
  const byKey = new Map<string, string>(); // id or name → id
  for (const r of out.rules) { byKey.set(r.id, r.id); if (r.sigma_name) byKey.set(r.sigma_name, r.id); }
  for (const p of pending) { byKey.set(p.ir.id, p.ir.id); if (p.ir.sigma_name) byKey.set(p.ir.sigma_name, p.ir.id); }
  const ok = new Set(out.rules.map((r) => r.id));
  let remaining = pending;
  // Resolve in dependency order; a correlation referencing a rejected or unknown rule is rejected too.
  for (let progress = true; progress && remaining.length > 0;) {
    progress = false;
    const next: PendingCorrelation[] = [];
    for (const p of remaining) {
      const ids = p.refs.map((r) => byKey.get(r));
      const missing = p.refs.filter((_, i) => ids[i] === undefined);
      if (missing.length > 0) {
        out.rejected.push({ id: p.ir.id, title: p.ir.name, file: p.ctx.file, line: lineOf(p.ctx, ['correlation', 'rules']), reason: `correlation references unknown rule(s) ${missing.join(', ')}` });
        progress = true;
        continue;
      }
      if (!ids.every((id) => ok.has(id as string))) { next.push(p); continue; }
      out.correlations.push({ ...p.ir, rules: ids as string[], aliases: correlationFields(p, ids as string[], byKey, ruleById) });
      ok.add(p.ir.id);
      progress = true;
    }
    remaining = next;
  }
  for (const p of remaining) {
    out.rejected.push({ id: p.ir.id, title: p.ir.name, file: p.ctx.file, line: lineOf(p.ctx, ['correlation', 'rules']), reason: 'correlation references a rejected rule or forms a cycle' });
  }
}

function applyFilters(out: CompileResult, filters: PendingFilter[]): void {
  const byKey = new Map<string, RuleIR>();
  for (const r of out.rules) { byKey.set(r.id, r); if (r.sigma_name) byKey.set(r.sigma_name, r); }
  for (const f of filters) {
    for (const t of f.targets) {
      const rule = byKey.get(t);
      if (!rule) { out.warnings.push(`filter ${f.id} (${f.ctx.file}): rule ${t} is not loaded`); continue; }
      const mismatch = (['product', 'category', 'service'] as const).some((k) => f.logsource[k] && rule.logsource[k] && f.logsource[k] !== rule.logsource[k]);
      if (mismatch) { out.warnings.push(`filter ${f.id} (${f.ctx.file}): logsource differs from rule ${t}; not applied`); continue; }
      const filtered = { ...rule, conditions: and([rule.conditions, not(f.condition)]) };
      out.rules[out.rules.indexOf(rule)] = filtered;
      byKey.set(rule.id, filtered);
      if (rule.sigma_name) byKey.set(rule.sigma_name, filtered);
    }
  }
}

/** Parses one source (YAML or JSON form) on its own; the result can be cached while the text is unchanged. */
export function parseSource(src: RuleSource, opts: CompileOptions = {}): ParsedSource {
  const out: ParsedSource = { rules: [], correlations: [], filters: [], rejected: [] };
  if (src.path.endsWith('.json')) parseJsonSource(src, out);
  else parseYamlSource(src, opts, out);
  return out;
}

/** Links parsed sources: resolves correlation references, applies filters, rejects duplicate ids. Pure. */
export function linkSources(parsed: ParsedSource[]): CompileResult {
  const out: CompileResult = {
    rules: parsed.flatMap((p) => p.rules), correlations: [], rejected: parsed.flatMap((p) => p.rejected), warnings: [],
  };
  dropDuplicateIds(out);
  resolveCorrelations(out, parsed.flatMap((p) => p.correlations));
  applyFilters(out, parsed.flatMap((p) => p.filters));
  return out;
}

/** Compiles Sigma YAML and JSON-form sources into IR. Never throws for bad rules: they land in `rejected`. */
export function compileSigma(sources: RuleSource[], opts: CompileOptions = {}): CompileResult {
  return linkSources(sources.map((s) => parseSource(s, opts)));
}

function dropDuplicateIds(out: CompileResult): void {
  const seen = new Set<string>();
  out.rules = out.rules.filter((r) => {
    if (seen.has(r.id)) { out.rejected.push({ id: r.id, title: r.name, file: r.sigma_source, reason: `duplicate rule id ${r.id}` }); return false; }
    seen.add(r.id);
    return true;
  });
}
