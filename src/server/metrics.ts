// Prometheus metrics of the server process (served at /metrics): ingest outcomes, pipeline timings,
// per-host drop counters reported by agents, registered in the process's registry (src/metrics/registry.ts, which
// also sums the threads' registries and checks the scrape token).
// /metrics lists every tenant's agent ids, so it needs a credential: a Bearer scrape token, the embedded server's
// <data-dir>/metrics-token (created at first start, mode 600) or a role's VIGIL_METRICS_TOKEN; without one every
// scrape is refused. /healthz and /readyz stay open and say nothing tenant-specific.

import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Counter, Gauge, Histogram } from 'prom-client';
import { registry } from '../metrics/registry.ts';

export { addThreadMetrics, metricsAuthorized, metricsText, registry } from '../metrics/registry.ts';

/** The scrape token of a data directory (`metrics-token`), created with 256 random bits when missing. */
export function loadOrCreateMetricsToken(dataDir: string): string {
  const path = join(dataDir, 'metrics-token');
  if (!existsSync(path)) {
    try {
      writeFileSync(path, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err; // another process created it meanwhile
    }
  }
  const token = readFileSync(path, 'utf8').trim();
  if (token.length < 16) throw new Error(`${path}: a metrics token has at least 16 characters`);
  return token;
}

export const ingestEvents = new Counter({
  name: 'vigil_ingest_events_total', help: 'Events received from agents, by outcome (accepted, rejected, truncated)',
  labelNames: ['outcome'], registers: [registry],
});
export const ingestRejectedMessages = new Counter({
  name: 'vigil_ingest_rejected_messages_total', help: 'Agent messages refused whole, by reason',
  labelNames: ['reason'], registers: [registry],
});
export const enrolments = new Counter({
  name: 'vigil_enrolments_total', help: 'Enrolment attempts by outcome', labelNames: ['outcome'], registers: [registry],
});
export const streamsRefused = new Counter({
  name: 'vigil_streams_refused_total', help: 'Agent streams refused (certificate problems)', labelNames: ['reason'], registers: [registry],
});
export const connectedAgents = new Gauge({
  name: 'vigil_connected_agents', help: 'Agents with an open stream', registers: [registry],
});
// Fine enough below 25 ms to tell an ack's p99 against its 10 ms goal.
const LATENCY_BUCKETS = [0.0005, 0.001, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.0125, 0.015, 0.02, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export const ingestAckSeconds = new Histogram({
  name: 'vigil_ingest_ack_seconds', help: 'From a batch received to its acknowledgement sent (validation and the durable bus write)',
  buckets: LATENCY_BUCKETS, registers: [registry],
});

export const busPublishSeconds = new Histogram({
  name: 'vigil_bus_publish_seconds', help: 'Ingest on JetStream: a batch\'s publish until its PubAck (the bus\'s share of an ack)',
  buckets: LATENCY_BUCKETS, registers: [registry],
});

export const busFull = new Gauge({
  name: 'vigil_bus_full', help: 'Ingest on JetStream: 1 while the events stream is at its byte bound (publishes refused, batches not acknowledged: agents keep them in their spool), else 0',
  registers: [registry],
});

export const busLogSyncIntervalMs = new Gauge({
  name: 'vigil_bus_log_sync_interval_ms', help: 'How an ack is durable: 0 = fdatasync\'ed before it, N = written before it and fdatasync\'ed within N ms',
  registers: [registry],
});

export const busLogCommitSeconds = new Histogram({
  name: 'vigil_bus_log_commit_seconds', help: 'Write + fdatasync of one group commit of the bus log (the disk\'s share of an ack)',
  buckets: LATENCY_BUCKETS, registers: [registry],
});

export const pipelineBatchSeconds = new Histogram({
  name: 'vigil_pipeline_batch_seconds', help: 'Time to process and durably store one pipeline batch',
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [registry],
});
export const pipelineReplayedDuplicates = new Counter({
  name: 'vigil_pipeline_replayed_duplicates_total',
  help: 'Events of redelivered bus messages found already stored, so not stored again (a replay after a crash)',
  registers: [registry],
});
export const agentDrops = new Gauge({
  name: 'vigil_agent_drops', help: 'Drops reported by agents in their last heartbeat', labelNames: ['host', 'where'], registers: [registry],
});

/** Messages on the embedded bus's log not yet stored by the pipeline (read when /metrics is scraped). */
let backlogSource: () => number = () => 0;
/**
 * Reports how late the calling thread's event loop ran since the last scrape (GC pauses, synchronous work,
 * waiting for a core): the part of an ack's latency that is neither the disk, the bus nor the network. For the
 * thread that runs ingest (the embedded ingest thread, or an ingest role's main thread).
 */
export function reportIngestLoopDelay(): void {
  const resolutionMs = 5;
  const loopDelay = monitorEventLoopDelay({ resolution: resolutionMs });
  loopDelay.enable();
  // The histogram holds the intervals between the monitor's timer ticks; minus the tick, how late each ran.
  const lateSeconds = (ns: number) => Math.max(0, ns / 1e6 - resolutionMs) / 1000;
  new Gauge({
    name: 'vigil_ingest_thread_loop_delay_seconds', help: 'How late the event loop of the thread that runs ingest ran since the last scrape, by quantile',
    labelNames: ['quantile'], registers: [registry],
    collect() {
      for (const q of [0.5, 0.99, 1]) this.set({ quantile: String(q) }, lateSeconds(q === 1 ? loopDelay.max : loopDelay.percentile(q * 100)));
      loopDelay.reset();
    },
  });
}

export function reportBusBacklog(source: () => number): void {
  backlogSource = source;
}
new Gauge({
  name: 'vigil_bus_backlog_messages', help: 'Batches ingested (durable) but not yet stored by the pipeline', registers: [registry],
  collect() { this.set(backlogSource()); },
});
