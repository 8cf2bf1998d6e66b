// Delivery of new alerts to the tenant's webhook sinks: one JSON POST per alert and sink, signed with the
// sink's secret when it has one (`x-vigil-signature: sha256=<hex HMAC-SHA256 of the body>`). A bounded queue
// (deliveries waiting or between attempts; beyond it new deliveries are dropped and counted), a few in flight at
// once, retries with exponential backoff and jitter on network errors, timeouts, 5xx, 408 and 429; other 4xx
// answers fail at once. Counters on /metrics. Secrets are never logged.

import { createHmac, randomUUID } from 'node:crypto';
import { Counter, Gauge } from 'prom-client';
import type { Logger } from 'pino';
import { registry } from '../server/metrics.ts';
import type { AlertSink, AlertSinkStore } from './sink-store.ts';

const deliveries = new Counter({
  name: 'vigil_alert_sink_deliveries_total', help: 'Alert deliveries to webhook sinks, by outcome (delivered, failed, dropped)',
  labelNames: ['outcome'], registers: [registry],
});
const retries = new Counter({ name: 'vigil_alert_sink_retries_total', help: 'Webhook delivery attempts that are retried', registers: [registry] });
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
}

interface Delivery { id: string; sink: AlertSink; body: string; attempt: number }

/** Whether an HTTP status is worth another attempt. */
const retryable = (status: number) => status >= 500 || status === 408 || status === 429;

export function signature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export class AlertDelivery {
  private readonly o: Required<Omit<DeliveryOptions, 'store' | 'log'>> & Pick<DeliveryOptions, 'store' | 'log'>;
  private readonly ready: Delivery[] = [];
  private readonly waiting = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private closed = false;

  constructor(o: DeliveryOptions) {
    this.o = { maxQueue: 10_000, maxAttempts: 6, baseDelayMs: 1000, maxDelayMs: 60_000, timeoutMs: 5000, concurrency: 4, ...o };
  }

  /** Deliveries waiting, between attempts or in flight. */
  get size(): number {
    return this.ready.length + this.waiting.size + this.inFlight.size;
  }

  /** Queues `payload` (a new alert, as the API shows it) for every sink of the tenant. */
  enqueue(tenantId: string, payload: unknown): void {
    if (this.closed) return;
    for (const sink of this.o.store.forTenant(tenantId)) {
      if (this.size >= this.o.maxQueue) {
        deliveries.inc({ outcome: 'dropped' });
        continue;
      }
      const id = randomUUID();
      this.ready.push({ id, sink, body: JSON.stringify({ type: 'alert', delivery_id: id, sink_id: sink.id, alert: payload }), attempt: 0 });
    }
    this.pump();
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
    if (outcome === 'delivered') return void deliveries.inc({ outcome: 'delivered' });
    if (outcome === 'retry' && d.attempt < this.o.maxAttempts && !this.closed) return this.retryLater(d);
    deliveries.inc({ outcome: 'failed' });
    this.o.log.warn({ sink: d.sink.id, delivery: d.id, attempts: d.attempt }, 'alert delivery to a webhook failed');
  }

  private retryLater(d: Delivery): void {
    retries.inc();
    const ceiling = Math.min(this.o.maxDelayMs, this.o.baseDelayMs * 2 ** (d.attempt - 1));
    const timer = setTimeout(() => {
      this.waiting.delete(timer);
      this.ready.push(d);
      this.pump();
    }, ceiling / 2 + Math.random() * (ceiling / 2));
    this.waiting.add(timer);
  }

  private async post(d: Delivery): Promise<'delivered' | 'retry' | 'refused'> {
    const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'vigil-alert-sink', 'x-vigil-delivery': d.id };
    if (d.sink.secret) headers['x-vigil-signature'] = signature(d.sink.secret, d.body);
    try {
      const res = await fetch(d.sink.url, {
        method: 'POST', headers, body: d.body, redirect: 'error',
        signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.o.timeoutMs)]),
      });
      await res.body?.cancel();
      if (res.ok) return 'delivered';
      return retryable(res.status) ? 'retry' : 'refused';
    } catch {
      return 'retry';
    }
  }

  /** Stops: deliveries not yet made are dropped (counted), attempts in flight are aborted. */
  async close(): Promise<void> {
    this.closed = true;
    const lost = this.ready.length + this.waiting.size;
    if (lost) deliveries.inc({ outcome: 'dropped' }, lost);
    for (const t of this.waiting) clearTimeout(t);
    this.waiting.clear();
    this.ready.length = 0;
    this.abort.abort();
    await Promise.allSettled([...this.inFlight]);
    queued.set(0);
  }
}
