// The incident store interface: incidents (alerts that belong together) as the detection stage groups them and
// analysts work them. Incidents live in the same database as the alerts (embedded: detection.db; at scale:
// PostgreSQL) in tables of their own. Grouping of new alerts (assign) is one transaction that serialises per
// tenant and host, so two writers never open two incidents for one lineage. Every change by an analyst is handed
// to an audit callback inside its transaction, with the incident row locked and before the change commits: a
// callback that throws (a ledger that cannot record) leaves the incident unchanged. Every read is tenant-scoped:
// another tenant's incident is "not found".

import type { AlertFacts, IncidentLevel } from '../../incidents/grouping.ts';

export const INCIDENT_STATUSES = ['open', 'investigating', 'closed'] as const;
export type IncidentStatus = (typeof INCIDENT_STATUSES)[number];
export const DISPOSITIONS = ['true_positive', 'benign', 'false_positive'] as const;
export type Disposition = (typeof DISPOSITIONS)[number];

export interface IncidentNote { author: string; text: string; at: string }

export interface Incident {
  id: string;
  tenant_id: string;
  title: string;
  /** True once someone set the title; until then it follows the alerts. */
  title_set: boolean;
  status: IncidentStatus;
  /** severity_override when set, else computed_severity. */
  severity: IncidentLevel;
  computed_severity: IncidentLevel;
  severity_override: IncidentLevel | null;
  assignee: string | null;
  disposition: Disposition | null;
  close_reason: string | null;
  closed_at: string | null;
  closed_by: string | null;
  alert_count: number;
  host_ids: string[];
  first_seen: string;
  last_seen: string;
  created_at: string;
  updated_at: string;
}

export interface IncidentDetail extends Incident {
  alert_ids: string[];
  /** Response actions linked explicitly. */
  action_ids: string[];
  notes: IncidentNote[];
}

/** An alert of an incident as the store keeps it. */
export interface IncidentAlert {
  alert_id: string;
  host_id: string;
  hostname: string;
  level: IncidentLevel;
  rule_id: string;
  rule_title: string;
  first_seen: string;
  last_seen: string;
  /** `detection` (grouped when stored) or the principal who moved it here. */
  added_by: string;
  added_at: string;
}

export interface IncidentQuery {
  tenantId: string;
  statuses?: IncidentStatus[];
  severities?: IncidentLevel[];
  /** A user id, or null for incidents without an assignee. */
  assignee?: string | null;
  hostId?: string;
  limit: number;
  cursor?: string;
}

/** What one alert of an assign() call came to. */
export interface Assignment {
  alert_id: string;
  incident_id: string;
  /** `created`: it opened a new incident; `joined` an existing one; `known`: it was already in this one (a repeat). */
  outcome: 'created' | 'joined' | 'known';
}

export interface IncidentPatch {
  status?: 'open' | 'investigating';
  assignee?: string | null;
  severity?: IncidentLevel | null;
  title?: string;
}

/** A change's facts for the audit record: field → {from, to} (or the action's own facts). */
export type Changes = Record<string, unknown>;

/** Called inside the change's transaction, before it commits; throwing aborts the change. */
export type AuditHook = (changes: Changes) => Promise<void>;

export class IncidentError extends Error {
  override name = 'IncidentError';
  readonly code: 'not_found' | 'incident_closed' | 'incident_not_closed' | 'unknown_alert';

  constructor(code: IncidentError['code'], message: string) {
    super(message);
    this.code = code;
  }
}

export interface MoveResult { incident: IncidentDetail; split_into: string | null; from: Record<string, string>; closed: string[] }

export interface IncidentStore {
  migrate(): Promise<void>;
  /**
   * Groups alerts into incidents (grouping.ts): each alert not yet in an incident joins one or opens one; an alert
   * already in one (a repeat, a redelivered batch) only widens that incident's time span. One transaction per call,
   * serialised per tenant and host against every other writer.
   */
  assign(alerts: AlertFacts[]): Promise<Assignment[]>;
  list(q: IncidentQuery): Promise<{ incidents: Incident[]; next: string | null; total: number }>;
  get(tenantId: string, id: string): Promise<IncidentDetail | undefined>;
  /** The incident holding this alert. */
  incidentOfAlert(tenantId: string, alertId: string): Promise<string | undefined>;
  alerts(tenantId: string, id: string, limit: number): Promise<IncidentAlert[]>;
  /** Applies the fields given; throws IncidentError (not_found, incident_closed). Changes: field → {from, to}. */
  update(tenantId: string, id: string, patch: IncidentPatch, actor: string, audit: AuditHook): Promise<IncidentDetail>;
  addNote(tenantId: string, id: string, note: IncidentNote, audit: AuditHook): Promise<IncidentDetail>;
  closeIncident(tenantId: string, id: string, c: { disposition: Disposition; reason: string; actor: string }, audit: AuditHook): Promise<IncidentDetail>;
  reopen(tenantId: string, id: string, c: { reason?: string; actor: string }, audit: AuditHook): Promise<IncidentDetail>;
  /**
   * Moves `add` (alerts of the tenant, stored: their facts) into the incident from wherever they were, and `remove`
   * (alert ids of this incident) out into one new incident. An incident left without alerts is closed.
   */
  moveAlerts(tenantId: string, id: string, m: { add: AlertFacts[]; remove: string[]; actor: string }, audit: AuditHook): Promise<MoveResult>;
  linkActions(tenantId: string, id: string, m: { add: string[]; remove: string[]; actor: string }, audit: AuditHook): Promise<IncidentDetail>;
  close(): Promise<void>;
}
