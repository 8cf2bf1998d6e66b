// Correlation rules (sigma-correlation-rules-specification): event_count, value_count, temporal,
// temporal_ordered, value_sum, value_avg, value_percentile over `timespan`, grouped by `group-by` (with
// `aliases`), chained (a correlation may reference another correlation). State is partitioned by tenant and host
// and bounded: at most MAX_GROUPS groups per correlation and tenant (past it, the tenant's least recently updated
// tenth is evicted, counted: one tenant's events never push another tenant's groups out) and MAX_ENTRIES entries
// per group (oldest dropped, counted).
// Window semantics: conditions that only grow true (gt/gte, temporal) use a sliding window and fire as soon
// as they hold; conditions with an upper bound (lt/lte/eq/neq, averages, percentiles) use a window opened by
// the group's first event and are decided when it closes (a later event of the same host past its end, or
// `flush`). A group that fired starts over. Pure: time comes from the events.

import type { CorrelationIR } from '../sigma/ir.ts';
import { getterFor, stringForm } from '../sigma/predicate.ts';
import type { Getter } from '../sigma/predicate.ts';
import { trimOldest } from '../util/trim-oldest.ts';

/** Open groups per correlation and tenant. */
export const MAX_GROUPS = 10_000;
export const MAX_ENTRIES = 4_096;
const MAX_EVENT_IDS = 100;

/** Something a correlation counts: a single-event match, or the result of a chained correlation. */
export interface CorrelationInput {
  ruleId: string;
  tenant: string;
  host: string;
  time: number; // ms since the epoch
  eventIds: string[];
  /** Field values: a single-event match reads the event; a chained correlation reads its group-by values. */
  get(field: string): unknown;
}

export interface CorrelationMatch {
  correlation: CorrelationIR;
  tenant: string;
  host: string;
  groupBy: Record<string, string>;
  eventIds: string[];
  first: number;
  last: number;
  value: number; // the aggregate that satisfied the condition (count, distinct count, sum, …)
}

interface Entry { time: number; ruleId: string; value: unknown; eventIds: string[] }

/**
 * `tally` counts the group's entries by the key a decision needs (the distinct value for value_count, the
 * rule for temporal ones), kept up to date as entries come and go, so a decision costs O(1), not O(entries).
 */
interface Group { key: string; tenant: string; host: string; groupBy: Record<string, string>; entries: Entry[]; tally: Map<string, number> }

export interface CorrelationCounters { evictedGroups: number; droppedEntries: number }

const UPPER_BOUNDED = ['lt', 'lte', 'eq', 'neq'] as const;

/** Does the aggregate satisfy the correlation condition? All thresholds given must hold. */
export function conditionHolds(c: CorrelationIR['condition'], v: number): boolean {
  return (c.gt === undefined || v > c.gt) && (c.gte === undefined || v >= c.gte)
    && (c.lt === undefined || v < c.lt) && (c.lte === undefined || v <= c.lte)
    && (c.eq === undefined || v === c.eq) && (c.neq === undefined || v !== c.neq);
}

function numbers(entries: Entry[]): number[] {
  const out: number[] = [];
  for (const e of entries) {
    const n = typeof e.value === 'number' ? e.value : Number(e.value);
    if (e.value !== undefined && e.value !== null && e.value !== '' && !Number.isNaN(n)) out.push(n);
  }
  return out;
}

/** Nearest-rank percentile (p in 0..100) of the values. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1];
}

/** The aggregate of a window for count-like correlations. */
function aggregate(c: CorrelationIR, entries: Entry[]): number {
  switch (c.type) {
    case 'event_count': return entries.length;
    case 'value_count': {
      const distinct = new Set<string>();
      for (const e of entries) { const s = stringForm(e.value); if (typeof s === 'string') distinct.add(s); }
      return distinct.size;
    }
    case 'value_sum': return numbers(entries).reduce((a, b) => a + b, 0);
    case 'value_avg': { const n = numbers(entries); return n.length ? n.reduce((a, b) => a + b, 0) / n.length : Number.NaN; }
    case 'value_percentile': return percentile(numbers(entries), c.condition.percentile ?? 50);
    default: return Number.NaN;
  }
}

/**
 * temporal_ordered: the referenced rules occur in the given order, the whole sequence within the timespan.
 * One pass over the entries (in time order): for each step, the latest start time of a partial sequence
 * that has reached it (the latest start leaves the most room in the window). O(entries × rules).
 */
function orderedSequence(c: CorrelationIR, entries: Entry[]): boolean {
  const k = c.rules.length;
  const start: number[] = new Array(k).fill(Number.NEGATIVE_INFINITY);
  for (const e of entries) {
    for (let step = k - 1; step >= 0; step--) { // high to low: one entry advances one step only
      if (e.ruleId !== c.rules[step]) continue;
      const from = step === 0 ? e.time : start[step - 1];
      if (from === Number.NEGATIVE_INFINITY) continue;
      if (step === k - 1 && e.time - from <= c.timespan_ms) return true;
      start[step] = Math.max(start[step], from);
      break;
    }
  }
  return false;
}

/** One correlation rule's state and logic. */
export class CorrelationState {
  readonly ir: CorrelationIR;
  /** Per tenant, its groups by key; insertion order = least recently updated first. */
  private readonly tenants = new Map<string, Map<string, Group>>();
  private readonly refs: Set<string>;
  private readonly valueField: Map<string, Getter | string>; // rule id → field of the aggregated value
  private readonly upperBounded: boolean;
  private readonly counters: CorrelationCounters;

  constructor(ir: CorrelationIR, counters: CorrelationCounters) {
    this.ir = ir;
    this.counters = counters;
    this.refs = new Set(ir.rules);
    this.valueField = new Map(ir.rules.map((r) => [r, this.fieldFor(ir.condition.field, r)]));
    const temporal = ir.type === 'temporal' || ir.type === 'temporal_ordered';
    this.upperBounded = !temporal && (ir.type === 'value_avg' || ir.type === 'value_percentile'
      || UPPER_BOUNDED.some((k) => ir.condition[k] !== undefined));
  }

  /** The field to read for `name` on matches of `ruleId`, through the correlation's aliases. */
  private fieldFor(name: string | undefined, ruleId: string): string {
    if (name === undefined) return '';
    return this.ir.aliases[name]?.[ruleId] ?? name;
  }

  references(ruleId: string): boolean { return this.refs.has(ruleId); }

  get groupCount(): number {
    let n = 0;
    for (const groups of this.tenants.values()) n += groups.size;
    return n;
  }

  /** Adds one input; returns the matches it completes (closed windows of this host, then this group). */
  add(input: CorrelationInput): CorrelationMatch[] {
    const partition = `${input.tenant}\u0000${input.host}`;
    let groups = this.tenants.get(input.tenant);
    if (!groups) { groups = new Map(); this.tenants.set(input.tenant, groups); }
    const out = this.closeBefore(groups, partition, input.time);
    const groupBy: Record<string, string> = {};
    for (const g of this.ir.group_by) {
      const v = stringForm(input.get(this.fieldFor(g, input.ruleId)));
      if (typeof v !== 'string') return out; // an input without a group-by value is not counted
      groupBy[g] = v;
    }
    const key = `${partition}\u0000${this.ir.group_by.map((g) => groupBy[g]).join('\u0000')}`;
    let group = groups.get(key);
    if (group) groups.delete(key);
    else group = { key, tenant: input.tenant, host: input.host, groupBy, entries: [], tally: new Map() };
    groups.set(key, group);
    this.counters.evictedGroups += trimOldest(groups, MAX_GROUPS);
    const field = this.valueField.get(input.ruleId) as string;
    const entry: Entry = { time: input.time, ruleId: input.ruleId, value: field ? input.get(field) : undefined, eventIds: input.eventIds.slice(0, MAX_EVENT_IDS) };
    group.entries.push(entry);
    this.count(group, entry, 1);
    if (group.entries.length > MAX_ENTRIES) { this.count(group, group.entries.shift()!, -1); this.counters.droppedEntries++; }
    if (this.upperBounded) return out;
    this.slide(group, input.time);
    const m = this.decide(group);
    if (m) out.push(m);
    return out;
  }

  /** Decides every open window (end of input). */
  flush(): CorrelationMatch[] {
    if (!this.upperBounded) return [];
    const out: CorrelationMatch[] = [];
    for (const groups of [...this.tenants.values()]) out.push(...this.closeBefore(groups, undefined, Number.POSITIVE_INFINITY));
    return out;
  }

  private slide(group: Group, now: number): void {
    const from = now - this.ir.timespan_ms;
    let drop = 0;
    while (drop < group.entries.length && group.entries[drop].time < from) drop++;
    if (drop > 0) for (const e of group.entries.splice(0, drop)) this.count(group, e, -1);
  }

  /** Upper-bounded conditions: decide the windows of one tenant's groups, of a host partition (all when undefined), ending before `now`. */
  private closeBefore(groups: Map<string, Group>, partition: string | undefined, now: number): CorrelationMatch[] {
    if (!this.upperBounded) return [];
    const out: CorrelationMatch[] = [];
    for (const g of [...groups.values()]) {
      if ((partition !== undefined && !g.key.startsWith(`${partition}\u0000`)) || g.entries[0].time + this.ir.timespan_ms >= now) continue;
      const end = g.entries[0].time + this.ir.timespan_ms;
      const inWindow = g.entries.filter((e) => e.time <= end);
      const rest = g.entries.slice(inWindow.length);
      this.setEntries(g, inWindow);
      const m = this.decide(g);
      if (m) out.push(m);
      if (rest.length > 0) { this.setEntries(g, rest); groups.set(g.key, g); } else this.remove(g);
    }
    return out;
  }

  /** The key an entry counts under in its group's tally, if this correlation keeps one. */
  private tallyKey(e: Entry): string | undefined {
    if (this.ir.type === 'temporal' || this.ir.type === 'temporal_ordered') return e.ruleId;
    if (this.ir.type !== 'value_count') return undefined;
    const s = stringForm(e.value);
    return typeof s === 'string' ? s : undefined;
  }

  private count(g: Group, e: Entry, delta: 1 | -1): void {
    const k = this.tallyKey(e);
    if (k === undefined) return;
    const n = (g.tally.get(k) ?? 0) + delta;
    if (n > 0) g.tally.set(k, n); else g.tally.delete(k);
  }

  private setEntries(g: Group, entries: Entry[]): void {
    g.entries = entries;
    g.tally = new Map();
    for (const e of entries) this.count(g, e, 1);
  }

  /** Evaluates a group's window; on a match the group starts over. */
  private decide(g: Group): CorrelationMatch | undefined {
    const ir = this.ir;
    let value: number;
    let holds: boolean;
    if (ir.type === 'temporal' || ir.type === 'temporal_ordered') {
      const allSeen = ir.rules.every((r) => g.tally.has(r));
      holds = ir.type === 'temporal' ? allSeen : allSeen && orderedSequence(ir, g.entries);
      value = g.tally.size;
    } else {
      value = ir.type === 'value_count' ? g.tally.size : aggregate(ir, g.entries);
      holds = !Number.isNaN(value) && conditionHolds(ir.condition, value);
    }
    if (!holds) return undefined;
    const eventIds = [...new Set(g.entries.flatMap((e) => e.eventIds))].slice(0, MAX_EVENT_IDS);
    const m: CorrelationMatch = {
      correlation: ir, tenant: g.tenant, host: g.host, groupBy: g.groupBy, eventIds, first: g.entries[0].time, last: g.entries[g.entries.length - 1].time, value,
    };
    this.remove(g);
    return m;
  }

  /** Forgets a group (its tenant's map stays, empty: one per tenant ever seen). */
  private remove(g: Group): void {
    this.tenants.get(g.tenant)?.delete(g.key);
  }
}

/** A CorrelationInput for a chained correlation's result: fields are its group-by values. */
export function chainedInput(m: CorrelationMatch): CorrelationInput {
  return { ruleId: m.correlation.id, tenant: m.tenant, host: m.host, time: m.last, eventIds: m.eventIds, get: (f) => m.groupBy[f] };
}

/** A CorrelationInput for a single-event match on `record`. */
export function eventInput(ruleId: string, tenant: string, host: string, time: number, eventId: string, record: Record<string, unknown>): CorrelationInput {
  return { ruleId, tenant, host, time, eventIds: [eventId], get: (f) => getterFor(f)(record) };
}

/** All correlation rules, fed with matches; chained correlations receive the results of the ones they reference. */
export class CorrelationEngine {
  readonly counters: CorrelationCounters = { evictedGroups: 0, droppedEntries: 0 };
  private states: CorrelationState[] = [];
  private byRef = new Map<string, CorrelationState[]>();

  constructor(correlations: CorrelationIR[], previous?: CorrelationEngine) {
    this.load(correlations, previous);
  }

  /** Replaces the correlation set; the state of a correlation whose definition did not change is kept. */
  private load(correlations: CorrelationIR[], previous?: CorrelationEngine): void {
    const old = new Map<string, CorrelationState>();
    for (const s of previous?.states ?? []) old.set(fingerprint(s.ir), s);
    this.states = correlations.map((ir) => old.get(fingerprint(ir)) ?? new CorrelationState(ir, this.counters));
    this.byRef = new Map();
    for (const s of this.states) for (const r of s.ir.rules) {
      const list = this.byRef.get(r) ?? [];
      list.push(s);
      this.byRef.set(r, list);
    }
    if (previous) Object.assign(this.counters, previous.counters);
  }

  /** Is `ruleId` referenced by any correlation (so its matches are worth feeding)? */
  wants(ruleId: string): boolean { return this.byRef.has(ruleId); }

  /** Rule ids whose own matches are suppressed: referenced only by correlations with `generate: false`. */
  suppressed(): Set<string> {
    const out = new Set<string>();
    for (const [ref, states] of this.byRef) if (states.every((s) => !s.ir.generate)) out.add(ref);
    return out;
  }

  /** Feeds one input; returns every correlation match it completes, chained ones included. */
  add(input: CorrelationInput): CorrelationMatch[] {
    const out: CorrelationMatch[] = [];
    const queue = [input];
    for (let i = 0; i < queue.length && i < 64; i++) {
      for (const s of this.byRef.get(queue[i].ruleId) ?? []) {
        for (const m of s.add(queue[i])) { out.push(m); queue.push(chainedInput(m)); }
      }
    }
    return out;
  }

  /** Decides every open window, chained correlations included (end of a scan). */
  flush(): CorrelationMatch[] {
    const out: CorrelationMatch[] = [];
    for (const s of this.states) for (const m of s.flush()) { out.push(m); out.push(...this.add(chainedInput(m))); }
    return out;
  }

  /** Open groups per correlation id (for metrics and tests). */
  groupCounts(): Record<string, number> {
    return Object.fromEntries(this.states.map((s) => [s.ir.id, s.groupCount]));
  }
}

function fingerprint(ir: CorrelationIR): string {
  return JSON.stringify([ir.id, ir.type, ir.rules, ir.group_by, ir.timespan_ms, ir.condition, ir.aliases]);
}
