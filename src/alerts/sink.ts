// Alert sinks and their outbox, as the rest of the product sees them: what a sink is (type, target URL, format,
// filters, template, options; its secret sealed at rest), its health (last success, last error, circuit breaker),
// and the durable outbox of deliveries (one row per alert and sink). The interfaces are implemented once on the
// shared SQL layer (src/stores/alert-sinks/: SQLite embedded, PostgreSQL at scale) and checked by
// test/conformance/alert-sink-store.test.ts. Pure: types and small helpers only.

import { randomBytes } from 'node:crypto';

export const SINK_TYPES = ['stdout', 'syslog', 'email', 'webhook', 'slack', 'teams', 'pagerduty'] as const;
export type SinkType = (typeof SINK_TYPES)[number];
export const SINK_FORMATS = ['vigil', 'ecs', 'ocsf', 'cef', 'text'] as const;
export type SinkFormat = (typeof SINK_FORMATS)[number];
export const SEVERITIES = ['informational', 'low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Which alerts a sink receives (every field narrows; lists are any-of). A sink only ever sees its own tenant's alerts. */
export interface SinkFilters {
  min_severity?: Severity;
  /** Sigma-style tags of the alert: `attack.t1059.004`, `attack.execution` (from its MITRE techniques and tactics). */
  rule_tags?: string[];
  /** MITRE ATT&CK tactic names (`Execution`, `Command and Control`; case-insensitive). */
  mitre_tactics?: string[];
  /** Rule ids. */
  rule_ids?: string[];
}

/** Per-type settings that are not secret (e-mail addressing, a syslog peer's CA, the rate limit). */
export interface SinkOptions {
  /** E-mail: sender and recipients; the SMTP user (its password is the sink's secret); STARTTLS required (default true on smtp://). */
  from?: string;
  to?: string[];
  username?: string;
  starttls?: boolean;
  /** syslog tls:// and smtp(s): a PEM CA bundle to trust besides the system's (a private CA). */
  ca_pem?: string;
  /** Most deliveries per minute to this sink (default 600). */
  rate_per_minute?: number;
  /** Repeats of a rule on a host within this many seconds are recorded `suppressed`, not sent (default 300; 0: every alert). */
  repeat_window_s?: number;
}

export interface AlertSink {
  id: string;
  tenantId: string;
  name: string;
  type: SinkType;
  url: string;
  format: SinkFormat;
  filters: SinkFilters;
  /** Human-readable forms (e-mail subject line and body, chat text, PagerDuty summary, `text` format): `{{rule.title}}`… */
  template: string | null;
  options: SinkOptions;
  /** HMAC key (webhook), SMTP password, PagerDuty routing key; null when none. Never returned by the API. */
  secret: string | null;
  enabled: boolean;
  createdBy: string;
  createdAt: number;
  updatedAt: number;
}

export type NewAlertSink = Omit<AlertSink, 'id' | 'updatedAt'>;
export type SinkPatch = Partial<Pick<AlertSink, 'name' | 'url' | 'format' | 'filters' | 'template' | 'options' | 'secret' | 'enabled'>>;

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface SinkHealth {
  lastSuccessAt: number | null;
  lastErrorAt: number | null;
  lastError: string | null;
  breaker: BreakerState;
  /** open: when a probe may go; half_open: when the probe's lease ends. */
  breakerUntil: number | null;
  /** Failures in a row (the breaker opens at its threshold). */
  failures: number;
  /** Deliveries waiting (pending), and dead letters. */
  queued: number;
  dead: number;
}

export type AlertSinkView = Omit<AlertSink, 'secret'> & { hasSecret: boolean; health: SinkHealth };

export interface AlertSinkStore {
  create(s: NewAlertSink): Promise<AlertSink>;
  /** The tenant's enabled and disabled sinks with their secrets (for delivery), oldest first. */
  forTenant(tenantId: string): Promise<AlertSink[]>;
  /** One sink with its secret, or undefined (any tenant when `tenantId` is null: the dispatcher). */
  get(tenantId: string | null, id: string): Promise<AlertSink | undefined>;
  list(tenantId: string): Promise<AlertSinkView[]>;
  view(tenantId: string, id: string): Promise<AlertSinkView | undefined>;
  /** The changed sink, or undefined when the tenant has no such sink. */
  update(tenantId: string, id: string, patch: SinkPatch, at: number): Promise<AlertSink | undefined>;
  /** False when the tenant has no such sink; its outbox rows go with it. */
  delete(tenantId: string, id: string): Promise<boolean>;
  close(): Promise<void>;
}

export type DeliveryState = 'pending' | 'delivered' | 'dead' | 'suppressed';

/** One alert to one sink. */
export interface Delivery {
  id: string;
  sinkId: string;
  tenantId: string;
  alertId: string;
  ruleId: string;
  hostId: string;
  state: DeliveryState;
  attempts: number;
  nextAt: number;
  createdAt: number;
  deliveredAt: number | null;
  lastError: string | null;
  /** The alert as the API showed it when it was queued (JSON). */
  payload: string;
}

export interface EnqueueItem {
  sink: Pick<AlertSink, 'id' | 'tenantId'>;
  alertId: string;
  ruleId: string;
  hostId: string;
  payload: string;
  /** This sink's repeat window, instead of the call's. */
  repeatWindowMs?: number;
}

/** How a claimed delivery ended. */
export type Outcome =
  | { kind: 'delivered'; at: number }
  | { kind: 'retry'; at: number; nextAt: number; error: string }
  | { kind: 'dead'; at: number; error: string };

/** Breaker transition recorded with an outcome (see breaker.ts). */
export interface BreakerUpdate { breaker: BreakerState; breakerUntil: number | null; failures: number }

/** What enqueueing did with an item. */
export type EnqueueResult = 'queued' | 'suppressed' | 'duplicate';

/** An alert of a tenant (alert ids are unique per tenant). */
export interface AlertRef { tenantId: string; alertId: string }

/** How long settled outbox rows are kept: delivered and suppressed ones (and the alerts' marks), dead letters. */
export interface OutboxRetention { settledMs: number; deadMs: number }

/** Rows one pruning deleted: delivered and suppressed, dead letters, alerts' marks. */
export interface PruneResult { settled: number; dead: number; marks: number }

export interface OutboxStore {
  /**
   * Queues each item once per (sink, alert): an item already queued is a `duplicate` (nothing changes). An item
   * whose sink delivered or queued an alert of the same rule and host within `repeatWindowMs` is recorded `suppressed`.
   * `mark`: the alert is recorded as handed to the outbox in the same transaction (also when no sink matched it).
   */
  enqueue(items: EnqueueItem[], at: number, repeatWindowMs: number, mark?: AlertRef): Promise<EnqueueResult[]>;
  /** Those of `alertIds` (of one tenant) not marked as handed to the outbox. */
  unmarked(tenantId: string, alertIds: string[]): Promise<string[]>;
  /**
   * Deletes settled rows older than the retention (by when they were queued) and alerts' marks as old as the
   * delivered ones, `batch` rows per transaction; `busy` when another process is pruning (PostgreSQL).
   */
  prune(retention: OutboxRetention, at: number, batch: number): Promise<PruneResult | 'busy'>;
  /** Sinks with deliveries due at `at` and not leased. */
  dueSinks(at: number, limit: number): Promise<string[]>;
  /**
   * Leases up to `limit` due deliveries of a sink to `owner` until `leaseUntil` (skipping rows other processes hold),
   * no more than the sink's token bucket of `perMinute` holds (stored: every process takes from the same bucket).
   */
  claim(sinkId: string, owner: string, at: number, leaseUntil: number, limit: number, perMinute: number): Promise<Delivery[]>;
  /**
   * Records the outcome of a delivery `owner` leased, and the sink's health with the breaker `breaker` computes from
   * the health as it is then (read and written in one transaction); false when the lease was lost (nothing written).
   */
  settle(d: Pick<Delivery, 'id' | 'sinkId'>, owner: string, outcome: Outcome, breaker: (h: SinkHealth) => BreakerUpdate): Promise<boolean>;
  /**
   * `settle` for several deliveries of one sink in one transaction, in order (the breaker of each sees the health
   * the ones before it left); whether each was still leased.
   */
  settleMany(sinkId: string, owner: string, items: { id: string; outcome: Outcome }[], breaker: (h: SinkHealth, index: number) => BreakerUpdate): Promise<boolean[]>;
  health(sinkId: string): Promise<SinkHealth>;
  /** The breaker alone (one row: what the dispatcher reads before each batch; `health` also counts the queue). */
  breaker(sinkId: string): Promise<Pick<SinkHealth, 'breaker' | 'breakerUntil' | 'failures'>>;
  /**
   * Moves the breaker from `from` (at or past its `breakerUntil`) to half_open with a probe lease: true for the one
   * process that wins the probe.
   */
  takeProbe(sinkId: string, from: BreakerState, at: number, probeUntil: number): Promise<boolean>;
  /** Deliveries of one alert (every sink of its tenant). */
  forAlert(tenantId: string, alertId: string): Promise<Delivery[]>;
  /** Deliveries of one sink, newest first, optionally of one state. */
  forSink(tenantId: string, sinkId: string, state: DeliveryState | undefined, limit: number): Promise<Delivery[]>;
  /** Dead deliveries of the sink (all, or those ids) back to pending, attempts reset; how many. */
  replay(tenantId: string, sinkId: string, ids: string[] | undefined, at: number): Promise<number>;
  /** Deliveries waiting across every sink (the queue-depth gauge). */
  pendingCount(): Promise<number>;
}

export const newSinkId = (): string => `snk-${randomBytes(8).toString('hex')}`;
export const newDeliveryId = (): string => `dlv-${randomBytes(12).toString('hex')}`;

export const emptyHealth = (): SinkHealth => ({ lastSuccessAt: null, lastErrorAt: null, lastError: null, breaker: 'closed', breakerUntil: null, failures: 0, queued: 0, dead: 0 });
