// The simulated agents' CPU priority in the latency benchmarks. Real agents run on other hosts; here they
// share the server's two cores, and an ack that reached their socket waits until their thread gets a core
// again: the instrument's own scheduling delay, not the server's. While a load phase runs, the bench's main
// thread (the agents) asks for the nice value the ingest thread has (INGEST_THREAD_NICE), so that neither
// waits behind the bulk work (pipeline, event store, workers); before and after, it runs at its own nice
// value again, so processes it spawns (servers, roles) do not inherit the raised priority. Where that is
// not allowed (not root, no CAP_SYS_NICE) the agents keep their priority and the figures say so.

import { monitorEventLoopDelay } from 'node:perf_hooks';
import { INGEST_THREAD_NICE } from '../../src/server/role-priority.ts';
import { setThreadNice, threadNice } from '../../src/util/thread-priority.ts';

export const AGENTS_NICE_ENV = 'BENCH_AGENTS_NICE';

export interface AgentPhase<T> {
  result: T;
  /** The nice value the phase ran at. */
  agentsNice: number;
  /** How late the agents' event loop ran during the phase (ms): their own share of the measured latency. */
  loopLate: { p99: number; max: number };
}

/**
 * Runs `phase` with the calling thread at `nice` (default INGEST_THREAD_NICE, or BENCH_AGENTS_NICE), then
 * restores its nice value; measures meanwhile how late the thread's event loop ran (1 ms ticks).
 */
export async function withAgentPriority<T>(phase: () => Promise<T>, nice = Number(process.env[AGENTS_NICE_ENV] ?? INGEST_THREAD_NICE)): Promise<AgentPhase<T>> {
  const own = threadNice();
  const agentsNice = setThreadNice(nice).nice;
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  try {
    const result = await phase();
    loopDelay.disable();
    // The histogram records the intervals between 1 ms ticks: a value minus 1 ms is how late a tick ran.
    const lateMs = (ns: number) => Math.round(Math.max(0, ns / 1e6 - 1) * 100) / 100;
    return { result, agentsNice, loopLate: { p99: lateMs(loopDelay.percentile(99)), max: lateMs(loopDelay.max) } };
  } finally {
    loopDelay.disable();
    setThreadNice(own);
  }
}
