// Response schemas of detection rules (src/api/routes/rules.ts): a rule as listed, with its text, changes, and a
// dry run over stored events.

import { arrayOf, BOOLEAN, enumOf, INTEGER, named, nullable, object, ref, STRING, TIME, type Schema } from './common.ts';

const COVERAGE = ['collected', 'partial', 'not_collected'] as const;

const ruleProperties: Record<string, Schema> = {
  id: STRING, title: STRING, kind: enumOf(['rule', 'correlation']), author: nullable(STRING), level: ref('Severity'), status: nullable(STRING),
  enabled: BOOLEAN, source: enumOf(['builtin', 'sigma', 'custom']), file: nullable(STRING),
  logsource: nullable(object({}, { product: STRING, category: STRING, service: STRING })), techniques: { ...arrayOf(STRING), description: 'technique ids' },
  response: { ...nullable(STRING), description: 'the automated response the rule names (its action)' }, owner: nullable(ref('RuleOwner')),
};
const coverageProperties: Record<string, Schema> = {
  coverage: { ...enumOf(COVERAGE), description: 'whether Vigil collects the events the rule needs (docs/rules.md)' },
  coverage_reason: STRING, coverage_logsource: STRING,
};

export const Rule = named('Rule', 'A detection rule.', object(ruleProperties, coverageProperties));

export const RuleDetail = named('RuleDetail', 'A detection rule with its text.', object({ ...ruleProperties, text: STRING }, coverageProperties));

export const RuleList = named('RuleList', 'Every rule, how many texts were rejected, and the rules by coverage.', object({
  rules: arrayOf(ref('Rule')), rejected: INTEGER, coverage: object(Object.fromEntries(COVERAGE.map((c) => [c, INTEGER]))),
}));

export const RuleChange = named('RuleChange', 'The rules a change touched, as they are now.', object({ ids: arrayOf(STRING), rules: arrayOf(ref('Rule')) }));

export const RuleTestScan = named('RuleTestScan', 'How much of the range a dry run read.', object({
  from: TIME, to: TIME, events_scanned: INTEGER, pages: INTEGER, event_types: nullable(arrayOf(STRING)), complete: BOOLEAN, stopped_at_budget: BOOLEAN,
  covered_from: TIME, budget_seconds: INTEGER, elapsed_ms: INTEGER, oldest_event: nullable(TIME), newest_event: nullable(TIME), summary: STRING,
}));

export const RuleTestResult = named('RuleTestResult', 'A dry run of a rule text over stored events.', object({
  matches: INTEGER, events_tested: INTEGER, alerts: arrayOf(ref('AlertMatch')), alerts_truncated: BOOLEAN, scan: ref('RuleTestScan'),
}));

export const RULE_SCHEMAS = [Rule, RuleDetail, RuleList, RuleChange, RuleTestScan, RuleTestResult];
