// Benchmark support: a process's CPU time and memory, read from /proc.

import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat's times (USER_HZ). */
export const CLK_TCK = 100;

/** utime and stime (fields 14, 15 of /proc/<pid>/stat), in clock ticks. */
export function cpuTicks(pid: number): { user: number; sys: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(f[11]), sys: Number(f[12]) };
}

/** A memory figure of /proc/<pid>/status, in MB. */
export function rssMb(pid: number, field: 'VmRSS' | 'VmHWM' | 'RssFile'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}
