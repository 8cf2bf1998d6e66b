// The simulated agents' CPU priority in the latency benchmarks. Real agents run on other hosts; here they
// share the server's two cores, and an ack that reached their socket waits until their thread gets a core
// again: the instrument's own scheduling delay, not the server's. While a load phase runs, the bench's main
// thread (the agents) asks for the nice value the ingest thread has (INGEST_THREAD_NICE), so that neither
// waits behind the bulk work (pipeline, event store, workers); before and after, it runs at its own nice
// value again, so processes it spawns (servers, roles) do not inherit the raised priority. Where that is
// not allowed (not root, no CAP_SYS_NICE) the agents keep their priority and the figures say so.

import { INGEST_THREAD_NICE } from '../../src/server/role-priority.ts';
import { setThreadNice, threadNice } from '../../src/util/thread-priority.ts';

export const AGENTS_NICE_ENV = 'BENCH_AGENTS_NICE';

/**
 * Runs `phase` with the calling thread at `nice` (default INGEST_THREAD_NICE, or BENCH_AGENTS_NICE), then
 * restores its nice value; returns the phase's result and the nice value it ran at.
 */
export async function withAgentPriority<T>(phase: () => Promise<T>, nice = Number(process.env[AGENTS_NICE_ENV] ?? INGEST_THREAD_NICE)): Promise<{ result: T; agentsNice: number }> {
  const own = threadNice();
  const agentsNice = setThreadNice(nice).nice;
  try {
    return { result: await phase(), agentsNice };
  } finally {
    setThreadNice(own);
  }
}
