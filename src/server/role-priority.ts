// CPU priorities of the roles on a shared machine. The thread that runs ingest (the embedded server's
// ingest thread, or the main thread of a process that runs the ingest role without the worker role) asks
// for nice -10: on a machine shared with the pipeline, the event store and garbage collection, an agent's
// ack otherwise waits for a core as well as for the disk or JetStream; ahead of them, the ack p99 at 10,000
// events/s roughly halves (docs/deployment.md, docs/scaling.md). A process that runs the worker role
// without ingest lowers its own priority instead (nice +5 by default, VIGIL_WORKER_NICE): its work is
// bulk (inserts, detection) and waits in JetStream when a core is busy, while the ingest processes and NATS
// on the same host answer agents. Lowering a priority needs no privilege; raising it does.

import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import { setProcessIdleScheduling, setThreadNice } from '../util/thread-priority.ts';

export const INGEST_THREAD_NICE = -10;

/** Gives the calling thread INGEST_THREAD_NICE where that is allowed (says so when not); reports it as a gauge. */
export function prioritiseIngestThread(log: Logger, registry: Registry): void {
  const priority = setThreadNice(INGEST_THREAD_NICE);
  if (!priority.ok) {
    log.warn({ nice: priority.nice, error: priority.error }, 'ingest keeps its CPU priority (needs CAP_SYS_NICE or LimitNICE=-10)');
  }
  new Gauge({ name: 'vigil_ingest_thread_nice', help: 'Nice value of the thread that runs ingest (lower is scheduled first)', registers: [registry] }).set(priority.nice);
}

/**
 * Called by a worker process's main thread before it starts its own threads (which inherit from it): every
 * thread under SCHED_IDLE when `idle`, else the nice value `nice` (also the fallback when idle scheduling is
 * refused). Reports both as gauges.
 */
export function lowerWorkerPriority(o: { idle: boolean; nice: number }, log: Logger, registry: Registry): void {
  const idle = o.idle ? setProcessIdleScheduling() : undefined;
  if (idle && !idle.ok) log.warn({ error: idle.error, nice: o.nice }, 'worker cannot use idle scheduling; lowering its nice value instead');
  const priority = setThreadNice(o.nice);
  if (!priority.ok) log.warn({ nice: priority.nice, error: priority.error }, 'worker keeps its nice value');
  new Gauge({ name: 'vigil_worker_idle_scheduling', help: 'Whether the worker process runs under SCHED_IDLE (1: only on CPU time nothing else wants)', registers: [registry] }).set(idle?.ok ? 1 : 0);
  new Gauge({ name: 'vigil_worker_nice', help: 'Nice value of the worker process\'s main thread (higher yields the CPU to ingest; no effect under SCHED_IDLE)', registers: [registry] }).set(priority.nice);
}
