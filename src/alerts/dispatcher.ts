// Alert delivery through the durable outbox, the same in both deployments: `enqueue` writes one row per matching
// sink of the alert's tenant (filters, repeat suppression per rule and host) before the caller acknowledges the
// alert; a loop in every API process leases due rows (a few per sink at a time), sends them (transports.ts) and
// settles each: delivered; retried later with exponential backoff and jitter; dead after the last attempt (replay
// from the API). A sink's circuit breaker (policy.ts; state in the database, so every process sees it) stops
// sending while it is open and lets one probe through after the cool-down; a token bucket per sink, stored beside
// the outbox and taken from in the claim's transaction, bounds the rate across every process. A process that dies
// mid-delivery leaves its rows leased: they are taken again when the lease ends (at-least-once; the
// `x-vigil-delivery` id lets a receiver drop the repeat). Settled rows are pruned past their retention, and an
// alert handed to the outbox is marked, so a deployment whose alert feed forgets on a crash can catch up (`catchUp`).
// Counters and gauges on /metrics.

import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Counter, Gauge } from 'prom-client';
import type { Logger } from 'pino';
import { registry } from '../metrics/registry.ts';
import { factsOf, type AlertDoc } from './formats.ts';
import { breakerAfter, breakerAllows, DEFAULT_POLICY, matchesFilters, nextAttemptAt, type DeliveryPolicy } from './policy.ts';
import type { AlertSink, AlertSinkStore, BreakerState, Delivery, EnqueueResult, Outcome, OutboxRetention, OutboxStore } from './sink.ts';
import { createTransports, DeliveryError, type Transports } from './transports.ts';

const deliveries = new Counter({
  name: 'vigil_alert_sink_deliveries_total', help: 'Alert deliveries to sinks, by outcome (delivered, failed: dead-lettered, suppressed: a repeat inside the window)',
  labelNames: ['outcome'], registers: [registry],
});
const retries = new Counter({ name: 'vigil_alert_sink_retries_total', help: 'Delivery attempts that failed and are tried again later', registers: [registry] });
const targetsRefused = new Counter({
  name: 'vigil_alert_sink_targets_refused_total', help: 'Deliveries refused because the target is a private, loopback, link-local or metadata address',
  registers: [registry],
});
const queued = new Gauge({ name: 'vigil_alert_sink_queue', help: 'Deliveries waiting in the outbox (every sink)', registers: [registry] });
const breakerGauge = new Gauge({
  name: 'vigil_alert_sink_breaker', help: 'Circuit breaker of each sink with work, as this process last saw it: 0 closed, 1 half-open, 2 open',
  labelNames: ['sink'], registers: [registry],
});
const BREAKER_VALUE: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 };
/** How often the queue-depth gauge is counted (a count reads every pending row). */
const QUEUE_GAUGE_MS = 5000;
/** Default retention of settled outbox rows: delivered and suppressed 7 days, dead letters 30. */
export const DEFAULT_OUTBOX_RETENTION: OutboxRetention = { settledMs: 7 * 86_400_000, deadMs: 30 * 86_400_000 };
/** Rows deleted per pruning transaction (a short write lock on SQLite). */
const PRUNE_BATCH = 1000;

export interface DeliveryOptions extends Partial<DeliveryPolicy> {
  /** One attempt's time limit (default 5 s). */
  timeoutMs?: number;
  /** How often the outbox is read when idle (default 250 ms). */
  pollMs?: number;
  /** Deliveries of one sink leased and sent at once by a process (default 16). */
  perSink?: number;
  /** How long a process holds what it leased: a process that dies leaves it this long (default 2 × timeout + 10 s). */
  leaseMs?: number;
  /** Deliver to loopback, private, link-local and metadata addresses too (default false). */
  allowPrivateTargets?: boolean;
  /** The default rate limit of a sink without one (deliveries per minute, across every process; default 600). */
  ratePerMinute?: number;
  /** How long settled outbox rows are kept (default DEFAULT_OUTBOX_RETENTION). */
  retention?: OutboxRetention;
  /** How often this process prunes the outbox (default 10 min; the first a minute after start). */
  pruneEveryMs?: number;
  /** syslog HOSTNAME; stdout writer (tests). */
  hostname?: string;
  stdout?: (line: string) => void;
}

export interface DispatcherDeps {
  sinks: AlertSinkStore;
  outbox: OutboxStore;
  log: Logger;
}

/** One attempt's result, to be recorded. */
interface Attempted { d: Delivery; outcome: Outcome; reachable: boolean }

/** What `test` found: delivered, or the error. */
export type TestResult = { ok: true; ms: number } | { ok: false; ms: number; error: string };

export class AlertDispatcher {
  private readonly policy: DeliveryPolicy;
  private readonly o: Required<Omit<DeliveryOptions, keyof DeliveryPolicy | 'hostname' | 'stdout'>>;
  private pruneTimer: NodeJS.Timeout | undefined;
  private readonly transports: Transports;
  private readonly owner = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private readonly inFlight = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private started = false;
  private countedAt = 0;
  private running = false;
  private stopped = false;
  private wake = false;

  private readonly deps: DispatcherDeps;

  constructor(deps: DispatcherDeps, o: DeliveryOptions = {}) {
    this.deps = deps;
    this.policy = { ...DEFAULT_POLICY, ...Object.fromEntries(Object.entries(o).filter(([k, v]) => k in DEFAULT_POLICY && v !== undefined)) };
    const timeoutMs = o.timeoutMs ?? 5000;
    this.o = {
      timeoutMs, pollMs: 250, perSink: 16, leaseMs: timeoutMs * 2 + 10_000, allowPrivateTargets: false, ratePerMinute: 600,
      retention: DEFAULT_OUTBOX_RETENTION, pruneEveryMs: 600_000, ...stripUndefined(o),
    };
    this.transports = createTransports({ allowPrivateTargets: this.o.allowPrivateTargets, timeoutMs: this.o.timeoutMs, hostname: o.hostname, stdout: o.stdout });
  }

  /**
   * Queues the alert (as the API shows it) for each enabled sink of its tenant whose filters it passes, and marks it
   * handed to the outbox in the same transaction (`catchUp` skips it then).
   */
  async enqueue(alert: AlertDoc): Promise<EnqueueResult[]> {
    const sinks = (await this.deps.sinks.forTenant(alert.tenant_id)).filter((s) => s.enabled && matchesFilters(s.filters, alert));
    const mark = { tenantId: alert.tenant_id, alertId: alert.id };
    if (!sinks.length) return this.deps.outbox.enqueue([], Date.now(), this.policy.repeatWindowMs, mark);
    const f = factsOf(alert);
    const payload = JSON.stringify(alert);
    const items = sinks.map((sink) => ({
      sink, alertId: alert.id, ruleId: f.ruleId, hostId: f.hostId, payload,
      ...(sink.options.repeat_window_s !== undefined ? { repeatWindowMs: sink.options.repeat_window_s * 1000 } : {}),
    }));
    const results = await this.deps.outbox.enqueue(items, Date.now(), this.policy.repeatWindowMs, mark);
    const suppressed = results.filter((r) => r === 'suppressed').length;
    if (suppressed) deliveries.inc({ outcome: 'suppressed' }, suppressed);
    this.kick();
    return results;
  }

  /** How long an alert's mark (handed to the outbox) is kept: `catchUp` must not look further back. */
  get markRetentionMs(): number {
    return this.o.retention.settledMs;
  }

  /**
   * Queues those of `alerts` (of one tenant) never handed to the outbox: an embedded server that died between
   * storing an alert and queuing it catches up at its next start. How many were queued.
   */
  async catchUp(tenantId: string, alerts: AlertDoc[]): Promise<number> {
    const missing = new Set(await this.deps.outbox.unmarked(tenantId, alerts.map((a) => a.id)));
    const late = alerts.filter((a) => missing.has(a.id));
    for (const a of late) await this.enqueue(a);
    if (late.length) this.deps.log.warn({ tenant: tenantId, alerts: late.length }, 'alerts stored but never queued for delivery (a crash?) queued now');
    return late.length;
  }

  /** Starts the delivery loop and the outbox's pruning. */
  start(): void {
    this.started = true;
    this.schedule(0);
    this.schedulePrune(Math.min(60_000, this.o.pruneEveryMs));
  }

  private schedulePrune(ms: number): void {
    if (this.stopped) return;
    this.pruneTimer = setTimeout(() => void this.pruneNow().finally(() => this.schedulePrune(this.o.pruneEveryMs)), ms);
    this.pruneTimer.unref();
  }

  /** Deletes settled rows past the retention (unless another process is at it); logs what it deleted. */
  async pruneNow(): Promise<void> {
    try {
      const r = await this.deps.outbox.prune(this.o.retention, Date.now(), PRUNE_BATCH);
      if (r !== 'busy' && r.settled + r.dead + r.marks > 0) this.deps.log.info({ ...r }, 'alert outbox pruned');
    } catch (err) {
      this.deps.log.error({ err }, 'alert outbox not pruned; trying again later');
    }
  }

  private kick(): void {
    if (!this.started) return;
    if (this.running) this.wake = true;
    else this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.cycle(), ms);
  }

  private async cycle(): Promise<void> {
    if (this.running || this.stopped) return;
    this.running = true;
    this.wake = false;
    let busy = false;
    try {
      const now = Date.now();
      const sinkIds = await this.deps.outbox.dueSinks(now, 100);
      busy = (await Promise.all(sinkIds.map((id) => this.serveSink(id, now)))).some(Boolean);
      if (now - this.countedAt >= QUEUE_GAUGE_MS) {
        this.countedAt = now;
        queued.set(await this.deps.outbox.pendingCount());
      }
    } catch (err) {
      this.deps.log.error({ err }, 'alert outbox could not be read; trying again');
    } finally {
      this.running = false;
      this.schedule(busy || this.wake ? 0 : this.o.pollMs);
    }
  }

  /** Sends what the sink's breaker and rate allow; true when something was sent (more may be due). */
  private async serveSink(sinkId: string, now: number): Promise<boolean> {
    const sink = await this.deps.sinks.get(null, sinkId);
    if (!sink?.enabled) return false; // a disabled sink's queue waits until it is enabled again
    const health = await this.deps.outbox.breaker(sinkId);
    breakerGauge.set({ sink: sinkId }, BREAKER_VALUE[health.breaker]);
    const allowed = breakerAllows(health, now);
    if (allowed === 'none') return false;
    let want = this.o.perSink;
    if (allowed !== 'all') {
      if (!(await this.deps.outbox.takeProbe(sinkId, allowed.probeFrom, now, now + this.o.leaseMs))) return false;
      breakerGauge.set({ sink: sinkId }, BREAKER_VALUE.half_open);
      want = 1;
    }
    const claimed = await this.deps.outbox.claim(sinkId, this.owner, now, now + this.o.leaseMs, want, sink.options.rate_per_minute ?? this.o.ratePerMinute);
    await this.sendAll(sink, claimed);
    return claimed.length > 0;
  }

  private track<T>(p: Promise<T>): Promise<T> {
    const tracked = p.then(() => undefined, () => undefined);
    this.inFlight.add(tracked);
    void tracked.then(() => this.inFlight.delete(tracked));
    return p;
  }

  /**
   * Sends the claimed deliveries at once and records their outcomes as they come, several per transaction (an
   * attempt that stalls until its timeout does not hold back the others' records).
   */
  private async sendAll(sink: AlertSink, claimed: Delivery[]): Promise<void> {
    const done: Attempted[] = [];
    let recording: Promise<void> | undefined;
    const record = () => {
      recording ??= (async () => {
        while (done.length) await this.record(sink, done.splice(0));
      })().finally(() => { recording = undefined; });
      return recording;
    };
    await Promise.all(claimed.map((d) => this.track(this.attempt(sink, d)).then((a) => { done.push(a); void record(); })));
    while (recording || done.length) await (recording ?? record());
  }

  private async attempt(sink: AlertSink, d: Delivery): Promise<Attempted> {
    let error: DeliveryError | undefined;
    try {
      await this.transports.send(sink, JSON.parse(d.payload) as AlertDoc, d.id);
    } catch (err) {
      error = err instanceof DeliveryError ? err : new DeliveryError(String((err as Error).message ?? err), true);
      if (/private targets need the server option/.test(error.message)) targetsRefused.inc();
    }
    const at = Date.now();
    const attempt = d.attempts + 1;
    const outcome: Outcome = !error ? { kind: 'delivered', at }
      : error.retryable && attempt < this.policy.maxAttempts ? { kind: 'retry', at, nextAt: nextAttemptAt(this.policy, attempt, at, Math.random()), error: error.message }
        : { kind: 'dead', at, error: error.message };
    // A refusal that another attempt cannot change (a 4xx, a refused target) still shows the sink answering: it does not open the breaker.
    return { d, outcome, reachable: !error || !error.retryable };
  }

  /** Records outcomes (and the breaker they move) in one transaction; counts them. */
  private async record(sink: AlertSink, batch: Attempted[]): Promise<void> {
    let breaker: BreakerState | undefined;
    let settled: boolean[];
    try {
      settled = await this.deps.outbox.settleMany(sink.id, this.owner, batch.map((a) => ({ id: a.d.id, outcome: a.outcome })), (h, i) => {
        const next = breakerAfter(this.policy, h, batch[i].reachable, batch[i].outcome.at);
        breaker = next.breaker;
        return next;
      });
    } catch (err) {
      return void this.deps.log.error({ err, sink: sink.id, deliveries: batch.length }, 'alert delivery outcomes not recorded; tried again when their lease ends');
    }
    if (breaker) breakerGauge.set({ sink: sink.id }, BREAKER_VALUE[breaker]);
    for (const [i, { d, outcome }] of batch.entries()) {
      if (!settled[i]) {
        this.deps.log.warn({ sink: sink.id, delivery: d.id }, 'alert delivery lease lost before it was settled; another process may deliver it again');
      } else if (outcome.kind === 'delivered') {
        deliveries.inc({ outcome: 'delivered' });
      } else if (outcome.kind === 'retry') {
        retries.inc();
      } else {
        deliveries.inc({ outcome: 'failed' });
        this.deps.log.warn({ sink: sink.id, delivery: d.id, attempts: d.attempts + 1, reason: outcome.error }, 'alert delivery failed for good (dead letter)');
      }
    }
  }

  /** Sends a sample alert to the sink now, outside the outbox (the console's "test" button). */
  async test(sink: AlertSink, sample: AlertDoc): Promise<TestResult> {
    const start = Date.now();
    try {
      await this.transports.send(sink, sample, `test-${randomBytes(6).toString('hex')}`);
      return { ok: true, ms: Date.now() - start };
    } catch (err) {
      return { ok: false, ms: Date.now() - start, error: (err as Error).message };
    }
  }

  /** Stops the loop, lets attempts in flight finish (each within its timeout) and closes connections. */
  async close(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.pruneTimer);
    while (this.running || this.inFlight.size) await Promise.race([...this.inFlight, new Promise((r) => setTimeout(r, 20))]);
    await this.transports.close();
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
