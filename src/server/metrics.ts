// Prometheus metrics of the server process (served at /metrics): ingest outcomes, pipeline timings,
// per-host drop counters reported by agents.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry });

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
export const ingestAckSeconds = new Histogram({
  name: 'vigil_ingest_ack_seconds', help: 'From a batch received to its acknowledgement sent (validation and the durable bus write)',
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [registry],
});

export const pipelineBatchSeconds = new Histogram({
  name: 'vigil_pipeline_batch_seconds', help: 'Time to process and durably store one pipeline batch',
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [registry],
});
export const agentDrops = new Gauge({
  name: 'vigil_agent_drops', help: 'Drops reported by agents in their last heartbeat', labelNames: ['host', 'where'], registers: [registry],
});

/** Messages on the embedded bus's log not yet stored by the pipeline (read when /metrics is scraped). */
let backlogSource: () => number = () => 0;
export function reportBusBacklog(source: () => number): void {
  backlogSource = source;
}
new Gauge({
  name: 'vigil_bus_backlog_messages', help: 'Batches ingested (durable) but not yet stored by the pipeline', registers: [registry],
  collect() { this.set(backlogSource()); },
});
