// CPU priority of the calling thread alone, and idle scheduling of a whole process. On Linux the nice value
// belongs to a thread, not to its process: setpriority(PRIO_PROCESS, 0) changes the caller only, and threads
// it starts later inherit it. The embedded server's ingest thread uses this to be scheduled ahead of the
// pipeline, the event store's threads and garbage collection, which share the same cores. A process doing
// bulk work (a worker role) can instead put every thread under SCHED_IDLE: it then runs only on CPU time no
// other task of its CPU cgroup wants, and a task that wakes up takes the core from it at once. Node has no
// sched_setscheduler(), so that goes through util-linux's `chrt` (Debian: essential, always installed).

import { spawnSync } from 'node:child_process';
import { setPriority } from 'node:os';
import { readdirSync, readFileSync } from 'node:fs';

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
  return Number(statField('/proc/thread-self/stat', 19) ?? 0);
}

export const SCHED_IDLE = 5;

/** Field `n` (1-based, as in proc(5)) of a /proc stat file; undefined where it cannot be read. */
function statField(path: string, n: number): string | undefined {
  try {
    const stat = readFileSync(path, 'utf8');
    // Fields after the command name (which may hold spaces) start after its closing parenthesis (field 2).
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[n - 3];
  } catch {
    return undefined;
  }
}

/** The scheduling policy of every thread of process `pid` (proc(5) field 41: 0 normal, 3 batch, 5 idle). */
export function threadPolicies(pid: number = process.pid): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`)
      .map((tid) => Number(statField(`/proc/${pid}/task/${tid}/stat`, 41)))
      .filter((policy) => Number.isInteger(policy)); // a thread that ended meanwhile
  } catch {
    return [];
  }
}

export type IdleResult = { ok: true } | { ok: false; error: string };

/**
 * Puts every thread of this process under SCHED_IDLE (threads started later inherit it from their creator).
 * Lowering a policy needs no privilege. Never throws: when `chrt` is missing or refused, the reason is returned.
 */
export function setProcessIdleScheduling(): IdleResult {
  const r = spawnSync('chrt', ['--idle', '--all-tasks', '--pid', '0', String(process.pid)], { encoding: 'utf8', timeout: 5000 });
  if (r.error) return { ok: false, error: `chrt: ${r.error.message}` };
  if (r.status !== 0) return { ok: false, error: `chrt exited with ${r.status ?? r.signal}: ${r.stderr.trim()}` };
  const policies = threadPolicies();
  if (!policies.every((p) => p === SCHED_IDLE)) return { ok: false, error: `threads' policies after chrt: ${policies.join(',')}` };
  return { ok: true };
}
