// The process's Prometheus registry, low in the layers so that every component that counts something (ingest, bus,
// alert delivery, response) registers its metrics here without importing the server: one registry per thread
// (the process-wide default metrics only in the main thread); metricsText() sums the main thread's with those of
// the threads added. /metrics lists every tenant's agent ids, so a scrape needs the Bearer scrape token
// (metricsAuthorized). The server's own metrics are in src/server/metrics.ts.

import { createHash, timingSafeEqual } from 'node:crypto';
import { isMainThread } from 'node:worker_threads';
import { AggregatorRegistry, Registry, collectDefaultMetrics, type MetricObjectWithValues, type MetricValue } from 'prom-client';

export const registry = new Registry();
if (isMainThread) collectDefaultMetrics({ register: registry });

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Whether an Authorization header carries `Bearer <token>` (compared in constant time); never without a token. */
export function metricsAuthorized(authorization: string | undefined, token: string | undefined): boolean {
  if (!token) return false;
  const m = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
  return m !== null && timingSafeEqual(digest(m[1]), digest(token));
}

type ThreadMetrics = () => Promise<MetricObjectWithValues<MetricValue<string>>[]>;
const threads = new Set<ThreadMetrics>();

/** Adds a thread's metrics to metricsText(); returns what removes them. */
export function addThreadMetrics(source: ThreadMetrics): () => void {
  threads.add(source);
  return () => threads.delete(source);
}

/** The Prometheus text of this thread's registry summed with the added threads' (a thread that fails to answer is left out). */
export async function metricsText(): Promise<string> {
  if (threads.size === 0) return registry.metrics();
  const all = await Promise.all([registry.getMetricsAsJSON(), ...[...threads].map((f) => f().catch(() => []))]);
  return AggregatorRegistry.aggregate(all).metrics();
}
