// Response schemas of alerts (list, groups, one alert, triage, bulk triage), the rule and MITRE techniques an alert
// carries, and alert exceptions (src/api/routes/alerts.ts, exceptions.ts).

import type { AlertRule as RuleOfAlert } from '../../detect/alerts.ts';
import { EXCEPTION_OPS } from '../../detect/exceptions.ts';
import { RULE_RESPONSE_ACTIONS } from '../../sigma/ir.ts';
import { ALERT_STATUSES, DISPOSITIONS, SEVERITY_ORDER } from '../../stores/alerts/types.ts';
import { arrayOf, BOOLEAN, enumOf, every, INTEGER, named, nullable, object, recordOf, ref, STRING, TIME, type Schema } from './common.ts';

const ALERT_RULE_TYPES = every<RuleOfAlert['type']>()(['single', 'event_count', 'value_count', 'temporal', 'temporal_ordered', 'value_sum', 'value_avg', 'value_percentile']);

export const Severity = named('Severity', 'A severity (a rule\'s level), least to most severe.', enumOf(SEVERITY_ORDER));
export const AlertStatus = named('AlertStatus', 'Where an alert is in triage (excepted: an exception matched it when stored).', enumOf(ALERT_STATUSES));
export const Disposition = named('Disposition', 'What a closed alert or incident turned out to be.', enumOf(DISPOSITIONS));

export const Technique = named('Technique', 'A MITRE ATT&CK technique with its tactics (by name).', object({ id: STRING, name: STRING, tactics: arrayOf(STRING) }));

export const RuleOwner = named('RuleOwner', "Who answers for a rule's automated response: the uploading tenant, or the operator (rule files).", {
  anyOf: [object({ kind: { const: 'tenant' }, tenant_id: STRING }), object({ kind: { const: 'operator' } })],
});

export const RuleResponse = named('RuleResponse', 'The automated response a rule names.', object(
  { action: enumOf(RULE_RESPONSE_ACTIONS) }, { params: { type: 'object', additionalProperties: true } },
));

export const AlertRule = named('AlertRule', 'The rule an alert came from, as it was when the alert was made.', object(
  { id: STRING, title: STRING, level: ref('Severity'), references: arrayOf(STRING), type: enumOf(ALERT_RULE_TYPES) },
  { author: STRING, status: STRING, description: STRING, response: ref('RuleResponse'), owner: ref('RuleOwner') },
));

/** What every alert carries, stored or only matched (a dry run). */
const matchRequired: Record<string, Schema> = {
  id: STRING, tenant_id: STRING, rule: ref('AlertRule'), events: arrayOf(ref('EventRecord')), event_ids: arrayOf(STRING), first_seen: TIME, last_seen: TIME,
};
const matchOptional: Record<string, Schema> = {
  host_id: STRING, process_entity_id: STRING,
  group_by: { ...recordOf(STRING), description: 'correlations: the group-by values the contributing events share' },
  process: ref('ProcessSummary'), ancestors: { ...arrayOf(ref('ProcessSummary')), description: 'root first, captured when the alert was made' },
};

export const AlertMatch = named('AlertMatch', 'An alert a rule dry run made (not stored).', object(
  { ...matchRequired, mitre: arrayOf(ref('Technique')) }, { ...matchOptional, occurrences: INTEGER },
));

export const AlertComment = named('AlertComment', 'A comment on an alert.', object({ author: STRING, text: STRING, at: TIME }));

export const Alert = named('Alert', 'A stored alert with its triage state.', object({
  ...matchRequired, occurrences: INTEGER, severity: ref('Severity'), techniques: arrayOf(ref('Technique')), status: ref('AlertStatus'),
  assignee: nullable(STRING), close_reason: nullable(STRING), disposition: nullable(ref('Disposition')), exception_id: nullable(STRING),
  comments: arrayOf(ref('AlertComment')), updated_at: TIME,
}, matchOptional));

export const AlertGroup = named('AlertGroup', 'Alerts grouped by rule, host or process.', object({
  key: { ...STRING, description: "rule id, host id or process entity id; '' for alerts without a host or process" },
  label: { ...nullable(STRING), description: "rule title, hostname, or the process's latest command line" },
  count: INTEGER, occurrences: INTEGER, max_severity: STRING, first_seen: TIME, last_seen: TIME,
  statuses: object(Object.fromEntries(ALERT_STATUSES.map((s) => [s, INTEGER]))),
}, { host_id: { ...STRING, description: "process groups: the process's host" } }));

export const AlertPage = named('AlertPage', 'A page of alerts, newest first, and the exact number matching the filter.', object({
  alerts: arrayOf(ref('Alert')), next: nullable(STRING), total: INTEGER,
}));

export const AlertGroupPage = named('AlertGroupPage', 'A page of alert groups (`group_by`), and the alerts and groups matching the filter.', object({
  groups: arrayOf(ref('AlertGroup')), next: nullable(STRING), total: INTEGER, total_groups: INTEGER,
}));

/** GET /alerts answers groups when asked `group_by`, alerts otherwise. */
export const AlertListing = named('AlertListing', 'GET /alerts: groups with `group_by`, else alerts.', {
  if: { type: 'object', required: ['groups'] }, then: ref('AlertGroupPage'), else: ref('AlertPage'),
});

export const BulkTriageResult = named('BulkTriageResult', 'What a bulk triage call matched and changed.', object({
  action: enumOf(['acknowledge', 'assign', 'close']), matched: INTEGER, changed: INTEGER,
  remaining: { ...INTEGER, description: 'alerts matching that the action would still change (past the per-call bound)' },
}));

export const AlertException = named('AlertException', 'An alert exception: alerts of its rule matching its conditions (in its scope) are stored excepted.', object({
  id: STRING, rule_id: STRING,
  conditions: arrayOf(object({ field: STRING, op: enumOf(EXCEPTION_OPS), value: STRING })),
  scope: object({}, { host_ids: arrayOf(STRING) }), reason: STRING, expires_at: nullable(TIME), source_alert_id: nullable(STRING),
  created_by: STRING, created_at: TIME, updated_by: STRING, updated_at: TIME, active: BOOLEAN,
}));

export const AlertExceptionPage = named('AlertExceptionPage', 'A page of exceptions, newest first, and their total.', object({
  exceptions: arrayOf(ref('AlertException')), next: nullable(STRING), total: INTEGER,
}));

export const ALERT_SCHEMAS = [
  Severity, AlertStatus, Disposition, Technique, RuleOwner, RuleResponse, AlertRule, AlertMatch, AlertComment, Alert, AlertGroup, AlertPage,
  AlertGroupPage, AlertListing, BulkTriageResult, AlertException, AlertExceptionPage,
];
