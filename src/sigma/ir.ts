// The JSON rule form (seed 002 §6): the intermediate representation every Sigma rule compiles to and the
// form custom rules are written in directly. Pure types plus tiny constructors; no I/O.

/** A field leaf compares one event field with one value. Lists of values become `or`/`and` nodes. */
export type MatchOp =
  | 'equals' | 'contains' | 'startswith' | 'endswith' // value: string; Sigma wildcards `*` `?` honoured
  | 're' // value: regular expression source; flags in `flags`
  | 'cidr' // value: CIDR (IPv4 or IPv6)
  | 'exists' // value: boolean
  | 'null' // field missing or null
  | 'lt' | 'lte' | 'gt' | 'gte' // value: number
  | 'fieldref'; // value: the other field's path; `match` says how the two values are compared

export type TimePart = 'minute' | 'hour' | 'day' | 'week' | 'month' | 'year';

export interface FieldNode {
  field: string;
  op: MatchOp;
  value: string | number | boolean | null;
  cased?: boolean; // case-sensitive comparison (Sigma `cased`)
  flags?: string; // regular expression flags (i, m, s)
  match?: 'equals' | 'contains' | 'startswith' | 'endswith'; // fieldref comparison
  timepart?: TimePart; // compare this part of a timestamp field instead of the field itself
}

/** A keyword leaf searches every value of the event (Sigma keyword lists). */
export interface KeywordNode {
  op: 'keyword';
  value: string;
  match: 'equals' | 'contains' | 'startswith' | 'endswith' | 're';
  cased?: boolean;
  flags?: string;
}

export interface BoolNode { op: 'and' | 'or'; children: ConditionNode[] }
export interface NotNode { op: 'not'; child: ConditionNode }
export interface ConstNode { op: 'true' | 'false' }

export type ConditionNode = FieldNode | KeywordNode | BoolNode | NotNode | ConstNode;

export interface Logsource { product?: string; category?: string; service?: string }

export type Level = 'informational' | 'low' | 'medium' | 'high' | 'critical';

/** A single-event rule. Field paths are already mapped to the event schema of the rule's logsource. */
export interface RuleIR {
  id: string;
  name: string; // Sigma title
  severity: Level; // Sigma level
  enabled: boolean;
  status?: string;
  author?: string;
  description?: string;
  sigma_source?: string; // file the rule came from
  logsource: Logsource;
  conditions: ConditionNode;
  mitre: string[]; // ATT&CK technique ids, e.g. T1059.004
  tags: string[];
  references?: string[];
  falsepositives?: string[];
  sigma_name?: string; // Sigma `name`, used by correlations
  response?: RuleResponse; // Vigil extension: what to do, unattended, when the rule fires
}

/** Actions a rule may name as its automated response (run only where the server's policy allows). */
export const RULE_RESPONSE_ACTIONS = ['kill_process', 'collect_triage', 'isolate'] as const;

/** A rule's automated response, e.g. `{ action: 'kill_process' }` (the matching process). */
export interface RuleResponse { action: (typeof RULE_RESPONSE_ACTIONS)[number]; params?: Record<string, unknown> }

export type CorrelationType =
  | 'event_count' | 'value_count' | 'temporal' | 'temporal_ordered'
  | 'value_sum' | 'value_avg' | 'value_percentile';

export interface CorrelationCondition {
  gt?: number; gte?: number; lt?: number; lte?: number; eq?: number; neq?: number;
  field?: string; // value_count / value_sum / value_avg / value_percentile
  percentile?: number; // value_percentile: 0..100
}

export interface CorrelationIR {
  id: string;
  name: string;
  severity: Level;
  enabled: boolean;
  status?: string;
  author?: string;
  description?: string;
  sigma_source?: string;
  sigma_name?: string;
  type: CorrelationType;
  rules: string[]; // ids of the referenced rules or correlations (names already resolved)
  group_by: string[];
  timespan_ms: number;
  condition: CorrelationCondition;
  aliases: Record<string, Record<string, string>>; // alias → referenced rule id → field
  generate: boolean;
  mitre: string[];
  tags: string[];
}

export interface RejectedRule {
  id?: string;
  title?: string;
  file?: string;
  line?: number;
  reason: string;
}

export function and(children: ConditionNode[]): ConditionNode {
  return children.length === 1 ? children[0] : { op: 'and', children };
}

export function or(children: ConditionNode[]): ConditionNode {
  return children.length === 1 ? children[0] : { op: 'or', children };
}

export function not(child: ConditionNode): ConditionNode {
  return { op: 'not', child };
}

export const LEVELS: readonly Level[] = ['informational', 'low', 'medium', 'high', 'critical'];

/** ATT&CK technique ids from Sigma tags (`attack.t1059.001` → `T1059.001`). */
export function techniquesFromTags(tags: string[]): string[] {
  const out: string[] = [];
  for (const t of tags) {
    const m = /^attack\.(t\d{4}(?:\.\d{3})?)$/i.exec(t);
    if (m) out.push(m[1].toUpperCase());
  }
  return out;
}
