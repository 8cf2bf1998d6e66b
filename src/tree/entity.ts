// Process entity ids: a stable hash of (host id, pid, process start time), so that a reused PID
// never joins two processes. Pure; the one definition every component uses.

import { hash } from 'node:crypto';

/** Start times are compared at millisecond precision; callers pass wall-clock ms since the epoch. */
export function processEntityId(hostId: string, pid: number, startTimeMs: number): string {
  return hash('sha256', `${hostId}\u0000${pid}\u0000${Math.trunc(startTimeMs)}`, 'base64url').slice(0, 22);
}
