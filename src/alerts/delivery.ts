// Delivery of new alerts to the tenant's webhook sinks: one JSON POST per alert and sink, signed with the
// sink's secret when it has one (`x-vigil-signature: sha256=<hex HMAC-SHA256 of the body>`). A bounded queue
// (deliveries waiting or between attempts; beyond it new deliveries are dropped and counted), a few in flight at
// once, retries with exponential backoff and jitter on network errors, timeouts, 5xx, 408 and 429; other 4xx
// answers fail at once; redirects are not followed. Each attempt passes the SSRF guard (target-guard.ts) on the
// addresses it connects to, unless private targets are allowed. Counters on /metrics. Secrets are never logged.
// `deliver` resolves once every delivery of an alert is final (delivered, failed or dropped): the scale-out API
// role acknowledges the alert's bus message only then, so a crash mid-delivery means the alert is delivered again.

import { createHmac, randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Counter, Gauge } from 'prom-client';
import type { Logger } from 'pino';
import { registry } from '../metrics/registry.ts';
import type { AlertSink, AlertSinkStore } from './sink-store.ts';
import { guardedLookup, literalRefusal, TargetRefusedError } from './target-guard.ts';

const deliveries = new Counter({
  name: 'vigil_alert_sink_deliveries_total', help: 'Alert deliveries to webhook sinks, by outcome (delivered, failed, dropped)',
  labelNames: ['outcome'], registers: [registry],
});
const retries = new Counter({ name: 'vigil_alert_sink_retries_total', help: 'Webhook delivery attempts that are retried', registers: [registry] });
const targetsRefused = new Counter({
  name: 'vigil_alert_sink_targets_refused_total', help: 'Webhook deliveries refused because the target is a private, loopback, link-local or metadata address',
  registers: [registry],
});
const queued = new Gauge({ name: 'vigil_alert_sink_queue', help: 'Webhook deliveries waiting or between attempts', registers: [registry] });

export interface DeliveryOptions {
  store: AlertSinkStore;
  log: Logger;
  /** Most deliveries waiting or between attempts (default 10,000). */
  maxQueue?: number;
  /** Attempts per delivery, the first included (default 6). */
  maxAttempts?: number;
  /** First retry delay; doubles per attempt, with jitter (default 1 s, at most maxDelayMs, default 60 s). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  timeoutMs?: number;
  concurrency?: number;
  /** Deliver to loopback, private, link-local and metadata addresses too (default false: refused, see target-guard.ts). */
  allowPrivateTargets?: boolean;
}

interface Delivery { id: string; sink: AlertSink; body: string; attempt: number; done: (stopped: boolean) => void }

export class DeliveryStoppedError extends Error {}

/** Whether an HTTP status is worth another attempt. */
const retryable = (status: number) => status >= 500 || status === 408 || status === 429;

export function signature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export class AlertDelivery {
  private readonly o: Required<Omit<DeliveryOptions, 'store' | 'log'>> & Pick<DeliveryOptions, 'store' | 'log'>;
  private readonly ready: Delivery[] = [];
  private readonly waiting = new Map<NodeJS.Timeout, Delivery>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private closed = false;

  constructor(o: DeliveryOptions) {
    this.o = { maxQueue: 10_000, maxAttempts: 6, baseDelayMs: 1000, maxDelayMs: 60_000, timeoutMs: 5000, concurrency: 4, allowPrivateTargets: false, ...o };
  }

  /** Deliveries waiting, between attempts or in flight. */
  get size(): number {
    return this.ready.length + this.waiting.size + this.inFlight.size;
  }

  /** Queues `payload` (a new alert, as the API shows it) for every sink of the tenant. */
  enqueue(tenantId: string, payload: unknown): void {
    this.deliver(tenantId, payload).catch((err: unknown) => {
      if (!(err instanceof DeliveryStoppedError)) this.o.log.error({ err, tenant: tenantId }, 'alert sinks could not be read; alert not delivered');
    });
  }

  /**
   * Delivers `payload` to every sink of the tenant; resolves when each delivery is final. Rejects when the sinks
   * cannot be read, and with DeliveryStoppedError when closing cut a delivery short (it was not made).
   */
  async deliver(tenantId: string, payload: unknown): Promise<void> {
    if (this.closed) throw new DeliveryStoppedError('alert delivery is stopping');
    const finals: Promise<boolean>[] = [];
    for (const sink of await this.o.store.forTenant(tenantId)) {
      if (this.closed || this.size >= this.o.maxQueue) {
        deliveries.inc({ outcome: 'dropped' });
        continue;
      }
      const id = randomUUID();
      finals.push(new Promise<boolean>((done) => {
        this.ready.push({ id, sink, body: JSON.stringify({ type: 'alert', delivery_id: id, sink_id: sink.id, alert: payload }), attempt: 0, done });
      }));
    }
    this.pump();
    if ((await Promise.all(finals)).some((stopped) => stopped)) throw new DeliveryStoppedError('alert delivery stopped before every sink had it');
  }

  private pump(): void {
    while (!this.closed && this.inFlight.size < this.o.concurrency && this.ready.length) {
      const p = this.attempt(this.ready.shift()!).finally(() => { this.inFlight.delete(p); this.pump(); });
      this.inFlight.add(p);
    }
    queued.set(this.size);
  }

  private async attempt(d: Delivery): Promise<void> {
    d.attempt++;
    const outcome = await this.post(d);
    if (outcome === 'retry' && d.attempt < this.o.maxAttempts && !this.closed) return this.retryLater(d);
    d.done(outcome !== 'delivered' && this.closed);
    if (outcome === 'delivered') return void deliveries.inc({ outcome: 'delivered' });
    deliveries.inc({ outcome: 'failed' });
    this.o.log.warn({ sink: d.sink.id, delivery: d.id, attempts: d.attempt }, 'alert delivery to a webhook failed');
  }

  /** The longest one delivery can take: every attempt timing out, every retry after its longest backoff. */
  get worstCaseMs(): number {
    let total = this.o.maxAttempts * this.o.timeoutMs;
    for (let a = 1; a < this.o.maxAttempts; a++) total += Math.min(this.o.maxDelayMs, this.o.baseDelayMs * 2 ** (a - 1));
    return total;
  }

  private retryLater(d: Delivery): void {
    retries.inc();
    const ceiling = Math.min(this.o.maxDelayMs, this.o.baseDelayMs * 2 ** (d.attempt - 1));
    const timer = setTimeout(() => {
      this.waiting.delete(timer);
      this.ready.push(d);
      this.pump();
    }, ceiling / 2 + Math.random() * (ceiling / 2));
    this.waiting.set(timer, d);
  }

  /** One POST; redirects are not followed (a 3xx fails the delivery: it could point anywhere). */
  private post(d: Delivery): Promise<'delivered' | 'retry' | 'refused'> {
    const url = new URL(d.sink.url);
    const refusedTarget = this.o.allowPrivateTargets ? undefined : literalRefusal(url);
    if (refusedTarget) return Promise.resolve(this.refuseTarget(d, refusedTarget));
    const headers: Record<string, string> = {
      'content-type': 'application/json', 'content-length': String(Buffer.byteLength(d.body)), 'user-agent': 'vigil-alert-sink', 'x-vigil-delivery': d.id,
    };
    if (d.sink.secret) headers['x-vigil-signature'] = signature(d.sink.secret, d.body);
    return new Promise((done) => {
      const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, {
        method: 'POST', headers, ...(this.o.allowPrivateTargets ? {} : { lookup: guardedLookup }),
        signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.o.timeoutMs)]),
      }, (res) => {
        res.resume();
        const status = res.statusCode ?? 0;
        done(status >= 200 && status < 300 ? 'delivered' : retryable(status) ? 'retry' : 'refused');
      });
      req.on('error', (err) => done(err instanceof TargetRefusedError ? this.refuseTarget(d, err) : 'retry'));
      req.end(d.body);
    });
  }

  /** A target the SSRF guard refuses (its DNS answer may have changed since creation): failed at once, counted. */
  private refuseTarget(d: Delivery, err: TargetRefusedError): 'refused' {
    targetsRefused.inc();
    this.o.log.warn({ sink: d.sink.id, delivery: d.id, reason: err.message }, 'alert delivery refused by the SSRF guard');
    return 'refused';
  }

  /** Stops: deliveries not yet made are dropped (counted), attempts in flight are aborted. */
  async close(): Promise<void> {
    this.closed = true;
    const lost = [...this.ready.splice(0), ...this.waiting.values()];
    if (lost.length) deliveries.inc({ outcome: 'dropped' }, lost.length);
    for (const t of this.waiting.keys()) clearTimeout(t);
    this.waiting.clear();
    for (const d of lost) d.done(true);
    this.abort.abort();
    await Promise.allSettled([...this.inFlight]);
    queued.set(0);
  }
}
