// Alerts: what a detection hands to the rest of the product (stored by the lead's alert store, shown in
// the API and CLI), and the sink interface they are written to. An alert's id is a hash of the rule id and
// the contributing event ids, so the same detection produced twice (a replay, a retry) dedupes; a single-event
// rule that matches a process is one alert per rule and process entity within a window (REPEAT_WINDOW_MS):
// its later matches (the fork, start and end of one process, a process that keeps doing it) are repeats,
// merged into it by the store (mergeRepeat: an occurrence count, first and last seen). Every alert carries the
// rule's author (Detection Rule License 1.1 of SigmaHQ rules) and, where it names a process, that process and
// its ancestors as they were when it was made. Pure.

import { createHash } from 'node:crypto';
import type { CorrelationIR, Level, RuleIR, RuleResponse } from '../sigma/ir.ts';
import type { CorrelationMatch } from './correlation.ts';
import { technique } from './mitre.ts';
import type { Technique } from './mitre.ts';
import type { EventRecord } from './records.ts';
import type { ProcessSummary } from '../tree/live-index.ts';

/** One alert per rule and process entity within this window (by the matching event's time). */
export const REPEAT_WINDOW_MS = 3_600_000;
/** Event ids (and events) an alert keeps of its repeats, besides its count. */
export const MAX_KEPT_EVENTS = 20;

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
  /** Who answers for that response (set with it): it never runs on a host of another tenant than the owner's. */
  owner?: RuleOwner;
}

/**
 * Who answers for a rule's automated response: the tenant whose principal uploaded the rule, or the operator who
 * loaded it from a rule file (its responses run in the tenants the server's automation policy names).
 */
export type RuleOwner = { kind: 'tenant'; tenant_id: string } | { kind: 'operator' };

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
  /** Matches merged into this alert (1 for a new one; absent on alerts stored before repeats were merged). */
  occurrences?: number;
  /** The process the alert is about and its ancestors, root first, captured when the alert was made. */
  process?: ProcessSummary;
  ancestors?: ProcessSummary[];
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

/** A single-event rule's alert id: per process entity and window where the event names a process, else per event. */
export function singleEventAlertId(ruleId: string, ctx: EventContext): string {
  if (!ctx.processEntity) return alertId(ruleId, [ctx.eventId]);
  const window = Math.floor(ctx.time / REPEAT_WINDOW_MS);
  return alertId(ruleId, [`process\u0000${ctx.tenant}\u0000${ctx.host ?? ''}\u0000${ctx.processEntity}\u0000${window}`]);
}

export function singleEventAlert(rule: RuleIR, record: EventRecord, ctx: EventContext): Alert {
  return {
    id: singleEventAlertId(rule.id, ctx), occurrences: 1, tenant_id: ctx.tenant, host_id: ctx.host, process_entity_id: ctx.processEntity,
    rule: alertRule(rule, 'single'), mitre: rule.mitre.map(technique), events: [record], event_ids: [ctx.eventId],
    first_seen: iso(ctx.time), last_seen: iso(ctx.time),
  };
}

export function correlationAlert(m: CorrelationMatch): Alert {
  const c = m.correlation;
  return {
    id: alertId(c.id, m.eventIds), occurrences: 1, tenant_id: m.tenant, host_id: m.host || undefined,
    rule: alertRule(c, c.type), mitre: c.mitre.map(technique), events: [], event_ids: m.eventIds, group_by: m.groupBy,
    first_seen: iso(m.first), last_seen: iso(m.last),
  };
}

/**
 * `stored` with a repeat of it (same id) merged in: one more occurrence, the time span widened, its event kept
 * (up to MAX_KEPT_EVENTS); undefined when the repeat's events are already in it (a re-delivery, not a repeat).
 */
export function mergeRepeat(stored: Alert, repeat: Alert): Alert | undefined {
  const known = new Set(stored.event_ids);
  const fresh = repeat.event_ids.filter((id) => !known.has(id));
  if (fresh.length === 0) return undefined;
  return {
    ...stored,
    occurrences: (stored.occurrences ?? 1) + 1,
    first_seen: repeat.first_seen < stored.first_seen ? repeat.first_seen : stored.first_seen,
    last_seen: repeat.last_seen > stored.last_seen ? repeat.last_seen : stored.last_seen,
    event_ids: [...stored.event_ids, ...fresh].slice(0, MAX_KEPT_EVENTS),
    events: [...stored.events, ...repeat.events].slice(0, MAX_KEPT_EVENTS),
  };
}
