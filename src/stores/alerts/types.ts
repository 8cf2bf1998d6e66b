// The alert store interface: detections as analysts work them. Alerts are written by the detection stage
// (deduplicated by their deterministic id), listed with filters and keyset cursors, and triaged:
// acknowledge, assign, close with a reason, suppress with a reason and an expiry (later alerts of the same
// rule on the same host arrive suppressed until then), comment. Every read is scoped by tenant: another
// tenant's alert is "not found".

import type { Alert } from '../../detect/alerts.ts';

export const ALERT_STATUSES = ['open', 'acknowledged', 'closed', 'suppressed'] as const;
export type AlertStatus = (typeof ALERT_STATUSES)[number];

export interface AlertComment { author: string; text: string; at: string }

export interface StoredAlert extends Alert {
  status: AlertStatus;
  assignee: string | null;
  close_reason: string | null;
  suppressed_until: string | null;
  comments: AlertComment[];
  updated_at: string;
}

export interface AlertQuery {
  tenantId: string;
  severities?: string[];
  statuses?: AlertStatus[];
  hostId?: string;
  ruleId?: string;
  /** Alerts about this process (entity id). */
  processEntityId?: string;
  from?: Date;
  to?: Date;
  limit: number;
  cursor?: string;
}

export type TriageAction =
  | { action: 'acknowledge' }
  | { action: 'assign'; assignee: string }
  | { action: 'close'; reason: string }
  | { action: 'suppress'; reason: string; until: Date }
  | { action: 'comment'; text: string };

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
  /** Stores new alerts; an id already stored is left as it is. Returns the alerts that were new. */
  write(alerts: Alert[]): Promise<StoredAlert[]>;
  list(q: AlertQuery): Promise<{ alerts: StoredAlert[]; next: string | null }>;
  get(tenantId: string, id: string): Promise<StoredAlert | undefined>;
  /** Applies a triage action by `actor`; undefined when the alert does not exist in this tenant. */
  triage(tenantId: string, id: string, actor: string, t: TriageAction): Promise<StoredAlert | undefined>;
  counts(tenantId: string, since: Date): Promise<AlertCounts>;
  /** Alerts by level per time bucket since a time (by last_seen; buckets start at multiples of bucketSeconds since the epoch). */
  levelBuckets(tenantId: string, since: Date, bucketSeconds: number): Promise<LevelBucket[]>;
  close(): Promise<void>;
}
