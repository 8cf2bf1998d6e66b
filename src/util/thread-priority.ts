// CPU priority of the calling thread alone. On Linux the nice value belongs to a thread, not to its process:
// setpriority(PRIO_PROCESS, 0) changes the caller only, and threads it starts later inherit it. The
// embedded server's ingest thread uses this to be scheduled ahead of the pipeline, the event store's
// threads and garbage collection, which share the same cores.

import { setPriority } from 'node:os';
import { readFileSync } from 'node:fs';

export type PriorityResult = { ok: true; nice: number } | { ok: false; nice: number; error: string };

/**
 * Sets the calling thread's nice value (-20 … 19; below the current one needs CAP_SYS_NICE or RLIMIT_NICE).
 * Never throws: when refused, the thread keeps its priority and the reason is returned.
 */
export function setThreadNice(nice: number): PriorityResult {
  try {
    setPriority(0, nice);
    return { ok: true, nice: threadNice() };
  } catch (err) {
    return { ok: false, nice: threadNice(), error: (err as Error).message };
  }
}

/** The calling thread's nice value (field 19 of /proc/thread-self/stat; 0 where there is no /proc). */
export function threadNice(): number {
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'utf8');
    // Fields after the command name (which may hold spaces) start after its closing parenthesis.
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
  } catch {
    return 0;
  }
}
