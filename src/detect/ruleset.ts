// RuleSet: compiled single-event rules with logsource routing and a literal index. An event is tested only
// against the rules of its logsource whose required literal groups all occur in it (exact values by hash
// lookup; substrings with one scan per indexed field for all rules of the logsource, by skip scanner or
// automaton, see skipscan.ts; keyword literals over each value of the event), plus the few rules that
// require no literal. Predicates are compiled once and cached per rule object across rebuilds; the
// per-event path allocates only some lowercased values and the matches. Enable/disable by id. Pure.

import type { RuleIR } from '../sigma/ir.ts';
import { ALL_VALUES, compilePredicate, fieldSlot, getterFor, lowerField, MatchContext, requiredLiteralGroups } from '../sigma/predicate.ts';
import type { Getter, Predicate } from '../sigma/predicate.ts';
import { literalScanner } from './skipscan.ts';
import type { LiteralScanner } from './skipscan.ts';
import type { EventLogsource } from './logsources.ts';
import { logsourceMatches } from './logsources.ts';
import type { EventRecord } from './records.ts';

export interface CompiledRule { ir: RuleIR; predicate: Predicate; index: number }

/** Predicates by rule object: a rule set rebuilt from the same parsed rules (hot reload) compiles nothing twice. */
const predicates = new WeakMap<RuleIR, Predicate>();

function predicateOf(ir: RuleIR): Predicate {
  let p = predicates.get(ir);
  if (!p) { p = compilePredicate(ir.conditions); predicates.set(ir, p); }
  return p;
}

/** A single-event rule match: pure data. */
export interface Detection { rule: RuleIR; event: EventRecord; logsource: EventLogsource }

/** The literal index of one field within a logsource bucket: exact values by map, substrings by scanner. */
interface FieldIndex {
  field: string;
  get: Getter;
  slot: number; // of the lowercased value in the MatchContext
  exact: Map<string, number[]>;
  exactNumbers: Map<number, number[]>; // the exact literals that are canonical numbers, for numeric values
  exactMaxLength: number; // longest exact literal: lowercasing never shortens, so longer values cannot match
  scanner: LiteralScanner | undefined;
  hit: (id: number) => void; // satisfies the literal groups of a found pattern
}

/**
 * A bucket indexes literal groups: a rule is a candidate once each of its groups (conjuncts of its
 * condition, see requiredLiteralGroups) has a literal in the event.
 */
interface Bucket {
  fields: FieldIndex[];
  always: number[]; // rules without any literal group
  size: number;
  ruleOfGroup: Int32Array; // group id → rule index
  groupStamp: Int32Array; // group id → epoch it was last satisfied in
}

const MAX_VALUE_DEPTH = 8;
const MAX_EPOCH = 0x7fffffff;

/** The entries of an exact-value map whose key is a number's canonical string form, keyed by the number. */
function numericKeys(exact: Map<string, number[]>): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (const [key, groups] of exact) if (key !== '' && String(Number(key)) === key) out.set(Number(key), groups);
  return out;
}

function push(m: Map<string, number[]>, key: string, rule: number): void {
  const list = m.get(key);
  if (!list) m.set(key, [rule]); else if (list[list.length - 1] !== rule) list.push(rule);
}

export class RuleSet {
  readonly rules: CompiledRule[];
  readonly rejected: { id: string; reason: string }[] = [];
  private readonly byId = new Map<string, CompiledRule>();
  private readonly disabled = new Set<string>();
  private buckets = new Map<string, Bucket>();
  private readonly ctx = new MatchContext();
  private readonly groupCount: Int32Array; // rule index → number of literal groups
  private readonly ruleStamp: Int32Array; // rule index → epoch of its last satisfied group
  private readonly groupsSatisfied: Int32Array; // rule index → groups satisfied in ruleStamp's epoch
  private epoch = 0;
  private current: Bucket | undefined;
  private readonly candidates: number[] = [];
  private readonly scanners = new Map<string, LiteralScanner>();

  constructor(rules: RuleIR[]) {
    this.rules = [];
    for (const ir of rules) {
      try {
        const cr = { ir, predicate: predicateOf(ir), index: this.rules.length };
        this.rules.push(cr);
        this.byId.set(ir.id, cr);
        if (!ir.enabled) this.disabled.add(ir.id);
      } catch (e) {
        this.rejected.push({ id: ir.id, reason: (e as Error).message });
      }
    }
    this.groupCount = new Int32Array(this.rules.length);
    this.ruleStamp = new Int32Array(this.rules.length);
    this.groupsSatisfied = new Int32Array(this.rules.length);
  }

  get(id: string): RuleIR | undefined { return this.byId.get(id)?.ir; }

  isEnabled(id: string): boolean { return this.byId.has(id) && !this.disabled.has(id); }

  setEnabled(id: string, enabled: boolean): boolean {
    if (!this.byId.has(id)) return false;
    if (enabled) this.disabled.delete(id); else this.disabled.add(id);
    this.buckets.clear();
    return true;
  }

  /** Number of enabled rules that apply to the logsource (after routing, before the literal index). */
  routedCount(ls: EventLogsource): number { return this.bucket(ls).size; }

  private bucket(ls: EventLogsource): Bucket {
    let b = this.buckets.get(ls.key);
    if (!b) { b = this.buildBucket(ls); this.buckets.set(ls.key, b); }
    return b;
  }

  private buildBucket(ls: EventLogsource): Bucket {
    const byField = new Map<string, { exact: Map<string, number[]>; sub: Map<string, number[]> }>();
    const always: number[] = [];
    const ruleOfGroup: number[] = [];
    let size = 0;
    for (const r of this.rules) {
      if (this.disabled.has(r.ir.id) || !logsourceMatches(r.ir.logsource, ls)) continue;
      size++;
      const groups = requiredLiteralGroups(r.ir.conditions);
      this.groupCount[r.index] = groups.length;
      if (groups.length === 0) { always.push(r.index); continue; }
      for (const group of groups) {
        const gid = ruleOfGroup.push(r.index) - 1;
        for (const { field, lit, exact } of group) {
          let f = byField.get(field);
          if (!f) { f = { exact: new Map(), sub: new Map() }; byField.set(field, f); }
          push(exact ? f.exact : f.sub, lit, gid);
        }
      }
    }
    const fields: FieldIndex[] = [];
    for (const [field, f] of byField) {
      const patterns = [...f.sub.keys()];
      const groupsByPattern = patterns.map((p) => f.sub.get(p) as number[]);
      const scanner = patterns.length === 0 ? undefined : this.scannerFor(patterns);
      fields.push({
        field, get: getterFor(field), slot: fieldSlot(field), exact: f.exact, exactNumbers: numericKeys(f.exact),
        exactMaxLength: Math.max(0, ...[...f.exact.keys()].map((k) => k.length)), scanner, hit: (id) => this.satisfy(groupsByPattern[id]),
      });
    }
    return { fields, always, size, ruleOfGroup: Int32Array.from(ruleOfGroup), groupStamp: new Int32Array(ruleOfGroup.length) };
  }

  /** Scanners are shared by the buckets that index the same literals (keyword rules of every logsource). */
  private scannerFor(patterns: string[]): LiteralScanner {
    const key = patterns.join('\u0000');
    let scanner = this.scanners.get(key);
    if (!scanner) { scanner = literalScanner(patterns); this.scanners.set(key, scanner); }
    return scanner;
  }

  /** Starts an event's epoch; stamps are Int32, so before they would wrap every stamp starts over. */
  private nextEpoch(): void {
    if (this.epoch === MAX_EPOCH) {
      this.epoch = 0;
      this.ruleStamp.fill(0);
      for (const b of this.buckets.values()) b.groupStamp.fill(0);
    }
    this.epoch++;
  }

  /** Marks literal groups satisfied; a rule whose groups are now all satisfied becomes a candidate. */
  private satisfy(groups: readonly number[] | undefined): void {
    if (groups === undefined) return;
    const { ruleOfGroup, groupStamp } = this.current as Bucket;
    const { epoch, ruleStamp, groupsSatisfied } = this;
    for (const g of groups) {
      if (groupStamp[g] === epoch) continue;
      groupStamp[g] = epoch;
      const ri = ruleOfGroup[g];
      if (ruleStamp[ri] !== epoch) { ruleStamp[ri] = epoch; groupsSatisfied[ri] = 0; }
      if (++groupsSatisfied[ri] === this.groupCount[ri]) this.candidates.push(ri);
    }
  }

  /** Adds the candidates a field's value selects: exact values by lookup, literals by scan. */
  private indexField(f: FieldIndex): void {
    if (f.field === ALL_VALUES) { if (f.scanner) this.scanValues(f.scanner, f.hit, this.ctx.event, 0); return; }
    const v = f.get(this.ctx.event);
    if (v === undefined || v === null) return;
    if (f.exact.size > 0) this.lookupExact(f, v);
    if (f.scanner === undefined) return;
    if (typeof v === 'string') f.scanner.scan(v, f.hit); else this.scanValues(f.scanner, f.hit, v, MAX_VALUE_DEPTH - 1); // a list's elements too
  }

  /** Exact-value lookup of a field value (as lowerField would lowercase it, without caching or allocating). */
  private lookupExact(f: FieldIndex, v: unknown): void {
    if (typeof v === 'string') { if (v.length <= f.exactMaxLength) this.satisfy(f.exact.get(v.toLowerCase())); return; }
    if (typeof v === 'number' && Number.isFinite(v)) { this.satisfy(f.exactNumbers.get(v)); return; }
    const l = lowerField(this.ctx, f.slot, f.get);
    if (typeof l === 'string') this.satisfy(f.exact.get(l)); else if (l) for (const x of l) this.satisfy(f.exact.get(x));
  }

  /** Scans every scalar under `v` (objects and arrays down to MAX_VALUE_DEPTH), each value on its own. */
  private scanValues(scanner: LiteralScanner, hit: (id: number) => void, v: unknown, depth: number): void {
    if (typeof v === 'string') { scanner.scan(v, hit); return; }
    if (v === null || v === undefined) return;
    if (typeof v !== 'object') { scanner.scan(String(v), hit); return; }
    if (depth >= MAX_VALUE_DEPTH) return;
    if (Array.isArray(v)) { for (const x of v) this.scanValues(scanner, hit, x, depth + 1); return; }
    const o = v as Record<string, unknown>;
    for (const k in o) {
      const x = o[k];
      if (typeof x !== 'string') this.scanValues(scanner, hit, x, depth + 1);
      else if (x.length >= scanner.minLength) scanner.scan(x, hit);
    }
  }

  /** Rules of `ls` matching `record`, in rule order. */
  match(record: EventRecord, ls: EventLogsource): Detection[] {
    const b = this.bucket(ls);
    if (b.size === 0) return [];
    const ctx = this.ctx;
    ctx.reset(record);
    this.nextEpoch();
    this.current = b;
    const cand = this.candidates;
    cand.length = 0;
    for (const f of b.fields) this.indexField(f);
    for (const ri of b.always) cand.push(ri);
    if (cand.length === 0) return [];
    if (cand.length > 1) cand.sort((x, y) => x - y);
    let out: Detection[] | undefined;
    for (const ri of cand) {
      const r = this.rules[ri];
      if (r.predicate(ctx)) (out ??= []).push({ rule: r.ir, event: record, logsource: ls });
    }
    return out ?? [];
  }
}
