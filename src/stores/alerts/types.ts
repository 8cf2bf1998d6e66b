// The alert store interface: detections as analysts work them. Alerts are written by the detection stage
// (deduplicated by their deterministic id), listed with filters, exact totals and keyset cursors, grouped (by
// rule, host or process), and triaged one by one or in bulk: acknowledge, assign, close with a disposition and a
// reason, comment. The store also keeps the tenant's exceptions (src/detect/exceptions.ts): a new alert that an
// active exception matches is stored with status `excepted` and the exception's id. Every read is scoped by
// tenant: another tenant's alert or exception is "not found".

import type { Alert } from '../../detect/alerts.ts';
import type { AlertException, ExceptionCondition, ExceptionScope } from '../../detect/exceptions.ts';

export const ALERT_STATUSES = ['open', 'acknowledged', 'closed', 'excepted'] as const;
export type AlertStatus = (typeof ALERT_STATUSES)[number];

export const DISPOSITIONS = ['true_positive', 'benign', 'false_positive'] as const;
export type Disposition = (typeof DISPOSITIONS)[number];

/** Levels from least to most severe (max_severity of a group). */
export const SEVERITY_ORDER = ['informational', 'low', 'medium', 'high', 'critical'] as const;

/**
 * Whether a newly stored alert is told to listeners (alert sinks, the live feed): excepted alerts are not. The
 * store reports them as new (they are new rows, with status `excepted`); the detection sinks filter with this. An
 * excepted alert triaged later (closed) keeps its exception_id and so is not published when a batch is redelivered.
 */
export const isDeliverable = (a: { status: AlertStatus; exception_id?: string | null }): boolean => a.status !== 'excepted' && !a.exception_id;

export interface AlertComment { author: string; text: string; at: string }

export interface StoredAlert extends Alert {
  status: AlertStatus;
  assignee: string | null;
  close_reason: string | null;
  disposition: Disposition | null;
  /** The exception that matched the alert when it was stored (status `excepted`). */
  exception_id: string | null;
  comments: AlertComment[];
  updated_at: string;
}

/** Which alerts: every field narrows (AND); lists are any-of. */
export interface AlertFilter {
  tenantId: string;
  severities?: string[];
  statuses?: AlertStatus[];
  hostId?: string;
  /** Any of these hosts (host ids; the API resolves host names to them). */
  hostIds?: string[];
  ruleId?: string;
  /** Alerts about this process (entity id). */
  processEntityId?: string;
  dispositions?: Disposition[];
  /** Alerts whose process (its captured user_name) or a kept event (`user.name`) is this user (exact). */
  userName?: string;
  /** Alerts with a kept event whose `file.path` contains this text (case-sensitive substring). */
  filePath?: string;
  /** Alerts with a kept event whose `process.hash.sha256` is this (lower-case hex). */
  sha256?: string;
  /** Only these alert ids. */
  ids?: string[];
  from?: Date;
  to?: Date;
}

export interface AlertQuery extends AlertFilter {
  limit: number;
  cursor?: string;
}

export const GROUP_BY = ['rule', 'host', 'process'] as const;
export type GroupBy = (typeof GROUP_BY)[number];

export interface AlertGroup {
  /** Rule id, host id or process entity id; '' for alerts without a host or process. */
  key: string;
  /** Rule groups: the rule's title; process groups: the latest command line (else executable); hosts: null (the API names them). */
  label: string | null;
  /** Process groups: the process's host. */
  host_id?: string;
  count: number;
  occurrences: number;
  max_severity: string;
  first_seen: string;
  last_seen: string;
  statuses: Record<AlertStatus, number>;
}

export type TriageAction =
  | { action: 'acknowledge' }
  | { action: 'assign'; assignee: string }
  | { action: 'close'; reason: string; disposition: Disposition }
  | { action: 'comment'; text: string };

export type BulkAction = Exclude<TriageAction, { action: 'comment' }>;

export interface BulkResult {
  /** Alerts matching the filter. */
  matched: number;
  /** Ids of the alerts this call changed (newest first). */
  changed: string[];
  /** Alerts matching the filter that the action would still change (past the bound). */
  remaining: number;
}

/** Bulk triage changes at most this many alerts per call. */
export const MAX_BULK = 10_000;
/** Exceptions per tenant. */
export const MAX_EXCEPTIONS = 1000;

export interface ExceptionInput {
  rule_id: string;
  conditions: ExceptionCondition[];
  scope: ExceptionScope;
  reason: string;
  expires_at: string | null;
  source_alert_id?: string | null;
}

export type ExceptionPatch = Partial<Pick<ExceptionInput, 'conditions' | 'scope' | 'reason' | 'expires_at'>>;

export interface ExceptionQuery {
  tenantId: string;
  ruleId?: string;
  /** true: not expired at `now`; false: expired. */
  active?: boolean;
  now?: Date;
  limit: number;
  cursor?: string;
}

/** Creating one more exception than MAX_EXCEPTIONS in a tenant. */
export class TooManyExceptionsError extends Error {
  override name = 'TooManyExceptionsError';
}

export interface AlertCounts {
  bySeverity: Record<string, number>;
  topRules: { id: string; title: string; count: number }[];
  topHosts: { id: string; alerts: number; risk: number }[];
}

/** The number of alerts of one level whose last_seen falls in the bucket starting at `t` (ISO 8601, UTC). */
export interface LevelBucket { t: string; level: string; count: number }

/** A bucket start in epoch seconds as ISO 8601 UTC. */
export const bucketTime = (epochSeconds: number | string): string => new Date(Number(epochSeconds) * 1000).toISOString();

export interface AlertStore {
  migrate(): Promise<void>;
  /** Stores new alerts; an id already stored is merged (a repeat) or left as it is. Returns the alerts that were new, excepted ones included (isDeliverable). */
  write(alerts: Alert[]): Promise<StoredAlert[]>;
  list(q: AlertQuery): Promise<{ alerts: StoredAlert[]; next: string | null }>;
  /** The exact number of alerts matching the filter. */
  count(f: AlertFilter): Promise<number>;
  /** Groups of the alerts matching the filter, latest last_seen first (then key descending), with their own cursor. */
  groups(q: AlertQuery, by: GroupBy): Promise<{ groups: AlertGroup[]; next: string | null; total_groups: number }>;
  /** Applies one action to the alerts matching the filter that it would change, newest first, at most `max` (MAX_BULK). */
  bulkTriage(f: AlertFilter, actor: string, t: BulkAction, max?: number): Promise<BulkResult>;
  /** Exceptions of the tenant (newest first, keyset cursor) and their total. */
  listExceptions(q: ExceptionQuery): Promise<{ exceptions: AlertException[]; next: string | null; total: number }>;
  getException(tenantId: string, id: string): Promise<AlertException | undefined>;
  /** TooManyExceptionsError past MAX_EXCEPTIONS in the tenant. */
  createException(tenantId: string, actor: string, e: ExceptionInput): Promise<AlertException>;
  updateException(tenantId: string, id: string, actor: string, patch: ExceptionPatch): Promise<AlertException | undefined>;
  /** The deleted exception; undefined when it did not exist in this tenant. */
  deleteException(tenantId: string, id: string): Promise<AlertException | undefined>;
  get(tenantId: string, id: string): Promise<StoredAlert | undefined>;
  /** Applies a triage action by `actor`; undefined when the alert does not exist in this tenant. */
  triage(tenantId: string, id: string, actor: string, t: TriageAction): Promise<StoredAlert | undefined>;
  counts(tenantId: string, since: Date): Promise<AlertCounts>;
  /** Alerts by level per time bucket since a time (by last_seen; buckets start at multiples of bucketSeconds since the epoch). */
  levelBuckets(tenantId: string, since: Date, bucketSeconds: number): Promise<LevelBucket[]>;
  /** MITRE techniques over every alert of these statuses (none: all): alerts carrying each technique id, most first, and the alerts counted. */
  techniqueCounts(tenantId: string, statuses: AlertStatus[]): Promise<{ alerts: number; techniques: { id: string; alerts: number }[] }>;
  close(): Promise<void>;
}
