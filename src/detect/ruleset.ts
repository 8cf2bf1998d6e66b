// RuleSet: compiled single-event rules with logsource routing and a literal index. An event is tested only
// against the rules of its logsource whose required literals occur in it (exact values by hash lookup,
// substrings with one Aho-Corasick pass per indexed field, keyword literals over all values), plus the few
// rules that have no required literal. Predicates are compiled once; the
// per-event path allocates only for matches; predicates are cached per rule object across rebuilds.
// Enable/disable by id. Pure.

import type { RuleIR } from '../sigma/ir.ts';
import { allValues, ALL_VALUES, compilePredicate, getterFor, lowerField, MatchContext, requiredLiterals, stringForm } from '../sigma/predicate.ts';
import type { Predicate } from '../sigma/predicate.ts';
import { AhoCorasick } from './aho.ts';
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

/** The literal index of one field within a logsource bucket: exact values by map, substrings by automaton. */
interface FieldIndex {
  field: string;
  raw: (ctx: MatchContext) => string | string[] | undefined; // for the (case-insensitive) automaton
  lower: (ctx: MatchContext) => string | string[] | undefined; // for exact lookups
  exact: Map<string, number[]>;
  ac: AhoCorasick | undefined;
  rulesByPattern: number[][];
}

interface Bucket { fields: FieldIndex[]; always: number[]; size: number }

function accessors(field: string): Pick<FieldIndex, 'raw' | 'lower'> {
  if (field === ALL_VALUES) return { raw: (ctx) => allValues(ctx.event), lower: () => undefined };
  const get = getterFor(field);
  return { raw: (ctx) => stringForm(get(ctx.event)), lower: (ctx) => lowerField(ctx, field, get) };
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
  private stamp: Int32Array;
  private epoch = 0;
  private readonly candidates: number[] = [];

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
    this.stamp = new Int32Array(this.rules.length);
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
    let size = 0;
    for (const r of this.rules) {
      if (this.disabled.has(r.ir.id) || !logsourceMatches(r.ir.logsource, ls)) continue;
      size++;
      const lits = requiredLiterals(r.ir.conditions);
      if (lits === null) { always.push(r.index); continue; }
      for (const { field, lit, exact } of lits) {
        let f = byField.get(field);
        if (!f) { f = { exact: new Map(), sub: new Map() }; byField.set(field, f); }
        push(exact ? f.exact : f.sub, lit, r.index);
      }
    }
    const fields: FieldIndex[] = [];
    for (const [field, f] of byField) {
      const patterns = [...f.sub.keys()];
      fields.push({
        field, ...accessors(field), exact: f.exact, ac: patterns.length > 0 ? new AhoCorasick(patterns) : undefined,
        rulesByPattern: patterns.map((p) => f.sub.get(p) as number[]),
      });
    }
    return { fields, always, size };
  }

  /** Rules of `ls` matching `record`, in rule order. */
  match(record: EventRecord, ls: EventLogsource): Detection[] {
    const b = this.bucket(ls);
    if (b.size === 0) return [];
    const ctx = this.ctx;
    ctx.reset(record);
    const epoch = ++this.epoch;
    const stamp = this.stamp;
    const cand = this.candidates;
    cand.length = 0;
    const add = (rules: number[] | undefined): void => {
      if (rules) for (const ri of rules) if (stamp[ri] !== epoch) { stamp[ri] = epoch; cand.push(ri); }
    };
    for (const f of b.fields) {
      if (f.exact.size > 0) {
        const v = f.lower(ctx);
        if (typeof v === 'string') add(f.exact.get(v)); else if (v) for (const x of v) add(f.exact.get(x));
      }
      if (f.ac) {
        const v = f.raw(ctx);
        const byPattern = f.rulesByPattern;
        const hit = (id: number): void => add(byPattern[id]);
        if (typeof v === 'string') f.ac.scan(v, hit); else if (v) for (const x of v) f.ac.scan(x, hit);
      }
    }
    for (const ri of b.always) if (stamp[ri] !== epoch) { stamp[ri] = epoch; cand.push(ri); }
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
