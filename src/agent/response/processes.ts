// Process actions on the agent: `list_processes` (every user-space process with its entity id) and
// `kill_process`, which signals a PID only if that PID is still the process the responder meant: its start time
// (or the entity id derived from it) must match what /proc says now, so a reused PID is never killed.

import { processEntityId } from '../../tree/entity.ts';
import type { KillParams, ListProcessesParams } from '../../response/model.ts';
import { ProcReader } from '../sensors/proc/reader.ts';
import { procStartTimeMs } from '../sensors/proc/parse.ts';

export class RefusedError extends Error {}

/** /proc start times are in clock ticks (10 ms); a start time within one tick is the same process. */
const START_TOLERANCE_MS = 10;

export function listProcesses(hostId: string, p: ListProcessesParams, reader = new ProcReader()) {
  const all = reader.readAllProcesses();
  const processes = all.slice(0, p.limit).map((r) => ({
    pid: r.pid, ppid: r.ppid, entity_id: processEntityId(hostId, r.pid, r.startTimeMs), start: new Date(r.startTimeMs).toISOString(),
    executable: r.executable ?? null, args: r.args ?? [], uid: r.uid ?? null, cwd: r.cwd ?? null,
  }));
  return { count: processes.length, truncated: all.length > p.limit, processes };
}

/** The current start time (ms) of `pid`, or undefined when no such process exists. */
function startTimeOf(reader: ProcReader, pid: number): number | undefined {
  const stat = reader.stat(pid);
  return stat && procStartTimeMs(stat.startTicks, reader.bootInfo().btimeS);
}

/** Checks the target's identity, then signals it; waits briefly to report whether it is gone. */
export async function killProcess(hostId: string, p: KillParams, reader = new ProcReader()) {
  if (p.pid === process.pid) throw new RefusedError('refusing to signal the agent itself');
  const startMs = startTimeOf(reader, p.pid);
  if (startMs === undefined) throw new RefusedError(`no process ${p.pid}`);
  const entityId = processEntityId(hostId, p.pid, startMs);
  if (p.entity_id !== undefined && p.entity_id !== entityId) {
    throw new RefusedError(`process ${p.pid} is not entity ${p.entity_id} (now ${entityId}): the PID was reused`);
  }
  if (p.start_time_ms !== undefined && Math.abs(p.start_time_ms - startMs) >= START_TOLERANCE_MS) {
    throw new RefusedError(`process ${p.pid} started at ${new Date(startMs).toISOString()}, not ${new Date(p.start_time_ms).toISOString()}: the PID was reused`);
  }
  process.kill(p.pid, p.signal);
  const gone = await waitUntilGone(reader, p.pid, startMs, p.signal === 'SIGKILL' ? 2000 : 200);
  return { pid: p.pid, entity_id: entityId, signal: p.signal, exited: gone };
}

/** True once the process has left /proc, become a zombie, or a different process holds the PID. */
async function waitUntilGone(reader: ProcReader, pid: number, startMs: number, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const stat = reader.stat(pid);
    if (!stat || stat.state === 'Z' || stat.state === 'X' || procStartTimeMs(stat.startTicks, reader.bootInfo().btimeS) !== startMs) return true;
    if (Date.now() >= until) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}
