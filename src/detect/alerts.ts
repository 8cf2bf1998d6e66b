// Alerts: what a detection hands to the rest of the product (stored by the lead's alert store, shown in
// the API and CLI), and the sink interface they are written to. An alert's id is a hash of the rule id and
// the contributing event ids, so the same detection produced twice (a replay, a retry) dedupes. Every alert
// carries the rule's author (Detection Rule License 1.1 of SigmaHQ rules). Pure.

import { createHash } from 'node:crypto';
import type { CorrelationIR, Level, RuleIR, RuleResponse } from '../sigma/ir.ts';
import type { CorrelationMatch } from './correlation.ts';
import { technique } from './mitre.ts';
import type { Technique } from './mitre.ts';
import type { EventRecord } from './records.ts';

export interface AlertRule {
  id: string;
  title: string;
  author?: string;
  level: Level;
  status?: string;
  description?: string;
  references: string[];
  /** `single` for a single-event rule, otherwise the correlation type. */
  type: 'single' | CorrelationIR['type'];
  /** The automated response the rule names, if any (run only where the server's policy allows). */
  response?: RuleResponse;
}

export interface Alert {
  id: string;
  tenant_id: string;
  host_id?: string;
  process_entity_id?: string;
  rule: AlertRule;
  mitre: Technique[];
  /** The matching event (single-event rules); empty for correlations, which carry event_ids. */
  events: EventRecord[];
  event_ids: string[];
  /** Correlations: the group-by values the contributing events share. */
  group_by?: Record<string, string>;
  first_seen: string;
  last_seen: string;
}

export interface AlertSink {
  write(alerts: Alert[]): Promise<void>;
}

export function alertId(ruleId: string, eventIds: string[]): string {
  return createHash('sha256').update(ruleId).update('\u0000').update(eventIds.join('\u0001')).digest('hex').slice(0, 32);
}

function alertRule(r: RuleIR | CorrelationIR, type: AlertRule['type']): AlertRule {
  return {
    id: r.id, title: r.name, author: r.author, level: r.severity, status: r.status, description: r.description,
    references: 'references' in r ? r.references ?? [] : [], type,
    ...('response' in r && r.response ? { response: r.response } : {}),
  };
}

function iso(ms: number): string {
  return new Date(Number.isFinite(ms) ? ms : 0).toISOString();
}

export interface EventContext { tenant: string; host?: string; processEntity?: string; eventId: string; time: number }

export function singleEventAlert(rule: RuleIR, record: EventRecord, ctx: EventContext): Alert {
  return {
    id: alertId(rule.id, [ctx.eventId]), tenant_id: ctx.tenant, host_id: ctx.host, process_entity_id: ctx.processEntity,
    rule: alertRule(rule, 'single'), mitre: rule.mitre.map(technique), events: [record], event_ids: [ctx.eventId],
    first_seen: iso(ctx.time), last_seen: iso(ctx.time),
  };
}

export function correlationAlert(m: CorrelationMatch): Alert {
  const c = m.correlation;
  return {
    id: alertId(c.id, m.eventIds), tenant_id: m.tenant, host_id: m.host || undefined,
    rule: alertRule(c, c.type), mitre: c.mitre.map(technique), events: [], event_ids: m.eventIds, group_by: m.groupBy,
    first_seen: iso(m.first), last_seen: iso(m.last),
  };
}
